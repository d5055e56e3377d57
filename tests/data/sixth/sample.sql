-- A few 低保 households of 乐坪街道 for the sixth-department test, typed the
-- way the office types them: 孙桂英's legacy 15-digit ID never upgraded,
-- her grandson's ID in full-width digits, 陈志刚's with a lower-case x and
-- his name padded with an ideographic space, 李秀梅's with spaces, 陈小宇's
-- with a wrong check digit and his sex as 未知. 罗冬梅's household is off
-- the allowance (zt='2') and she left it (zt='0'): neither is published.
-- 何建's household is only suspended (zt='3'), still published; his birth
-- date was mistyped as 1950.02.30 — the one deliberately bad row, which
-- must become a dead letter.

INSERT INTO mz_dbh (dbbh, hzxm, hzsfzh, jtdz, sqdm, jtrs, bzje, pzrq, zt, gxsj) VALUES
 ('DB201900017', '孙桂英',   '431302480315002',    '乐坪街道大塘小区7栋102', '431302002001', 2, 1230.00, '2019.03.15', '1', '2023-07-01 09:00:00+08'),
 ('DB202100042', '陈志刚',   '43130219750909011x', '乐坪街道童家新村7栋301', '431302002002', 3, 1845.00, '2021.06.08', '1', '2023-06-20 15:30:00+08'),
 ('DB201800008', '罗冬梅',   '431302196601180404', '乐坪街道童家新村2栋502', '431302002002', 1, NULL,    '2018.01.10', '2', '2022-12-31 10:00:00+08'),
 ('DB202200051', '何建　',   ' ',                  '',                       '431302002009', 1, 615.00,  '2022.04.05', '3', '2023-05-12 11:20:00+08')
ON CONFLICT DO NOTHING;

INSERT INTO mz_dbcy (cybh, dbbh, xm, xb, sfzh, csrq, yhzgx, cjlb, lxdh, zt, gxsj) VALUES
 ('DB201900017-01', 'DB201900017', '孙桂英',       '女',   '431302480315002',                      '1948.03.15', '户主', '2',  NULL,              '1', '2023-07-01 09:00:00+08'),
 ('DB201900017-02', 'DB201900017', '孙浩然',       '男',   '４３１３０２２０１２０６０１０１１８', '20120601',   '孙子', '0',  NULL,              '1', '2023-07-01 09:00:00+08'),
 ('DB202100042-01', 'DB202100042', '  陈志刚　',   '男',   '43130219750909011x',                   '1975.09.09', '户主', '4',  ' 13973804521 ',   '1', '2023-06-20 15:30:00+08'),
 ('DB202100042-02', 'DB202100042', '李秀梅',       '女',   '431302 19790822 0209',                 '1979.08.22', '妻',   NULL, '13807384422',     '1', '2023-06-20 15:30:00+08'),
 ('DB202100042-03', 'DB202100042', '陈小宇',       '未知', '431302201503010315',                   '2015.03.01', '子',   '5',  NULL,              '1', '2023-06-20 15:30:00+08'),
 ('DB201800008-01', 'DB201800008', '罗冬梅',       '女',   '431302196601180404',                   '1966.01.18', '户主', '0',  '13574380012',     '0', '2022-12-31 10:00:00+08'),
 ('DB202200051-01', 'DB202200051', '何建',         '男',   '431302195002030119',                   '1950.02.30', '户主', '4',  NULL,              '1', '2023-05-12 11:20:00+08')
ON CONFLICT DO NOTHING;
