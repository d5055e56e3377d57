-- 民政 (civil affairs): the minimum-living-allowance (最低生活保障, 低保)
-- system of the 街道 civil-affairs office, as it plausibly looks. A sixth
-- department for tests/integration/pipeline/test_departments.c: it is
-- defined only by the files in this directory (no C code), which is the
-- point.
--
-- Households receiving the allowance (低保户) and their members. Keys are
-- the office's own numbers; sex is typed as 男/女 (or 未知); dates are text,
-- 'YYYY.MM.DD' as the office types them, or 'YYYYMMDD' for rows migrated
-- from the provincial platform; ID numbers as typed (legacy 15-digit ones
-- never upgraded, full-width digits from a phone, a lower-case x). Records
-- are never deleted: a household taken off the allowance keeps zt='2'
-- (停保), a member who leaves the household keeps zt='0'.

CREATE TABLE IF NOT EXISTS mz_dbh (              -- 低保户 households on the allowance
    dbbh      varchar(20) PRIMARY KEY,          -- 低保编号, e.g. DB201900017
    hzxm      varchar(50) NOT NULL,             -- 户主姓名
    hzsfzh    varchar(40),                      -- 户主身份证号 (as typed)
    jtdz      varchar(200),                     -- 家庭住址
    sqdm      char(12) NOT NULL,                -- 社区代码 (统计用区划代码)
    jtrs      smallint NOT NULL,                -- 保障人数
    bzje      numeric(8,2),                     -- 月保障金额 (元)
    pzrq      varchar(10),                      -- 批准日期 'YYYY.MM.DD'
    zt        char(1) NOT NULL DEFAULT '1',     -- 状态 1=在保 2=停保 3=暂停发放
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);

CREATE TABLE IF NOT EXISTS mz_dbcy (             -- 低保家庭成员 members
    cybh      varchar(20) PRIMARY KEY,          -- 成员编号 = 低保编号 + '-' + 序号
    dbbh      varchar(20) NOT NULL,             -- 低保编号 -> mz_dbh.dbbh
    xm        varchar(50) NOT NULL,             -- 姓名
    xb        varchar(4),                       -- 性别 男/女/未知
    sfzh      varchar(60),                      -- 身份证号 (as typed)
    csrq      varchar(10),                      -- 出生日期 'YYYY.MM.DD' or 'YYYYMMDD'
    yhzgx     varchar(10),                      -- 与户主关系 (text)
    cjlb      char(1),                          -- 残疾类别 0=无 1=视力 2=听力 3=言语 4=肢体 5=智力 6=精神 7=多重
    lxdh      varchar(20),                      -- 联系电话
    zt        char(1) NOT NULL DEFAULT '1',     -- 状态 1=在保 0=已退出
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS mz_dbcy_dbbh_idx ON mz_dbcy (dbbh);
