-- Hostile rows for the test department (tests/data/dept/schema.sql), loaded
-- by tests/integration/faults/test_hostile.c. Rows whose key starts with
-- BAD_ must become dead letters (their reason is checked); every other row
-- must reach the subscriber with its values intact, whatever they hold.
INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, wgbm, bz, gxsj) VALUES
('H01', '张'';--', '110105198001010016', '1', '1980-01-01', '13800000001', ''';DROP TABLE zz_syrk;--', 'LP-DT-01', NULL, now()),
('H02', '王'');--', '110105198001020011', '1', '1980-01-02', '13800000002', 'Robert''); DROP TABLE person;--', 'LP-DT-01', NULL, now()),
('H03', '赵%%\\', NULL, '2', '1980-01-03', '13800000003', '%s%s%n%x\\', 'LP-DT-01', NULL, now()),
('H04', '覆盖', '11010519800104001', '2', '1980-01-04', '+86 (138) 0000-0004', E'\u202eRTL\u200b零宽 line1\nline2\ttab', 'LP-DT-01', NULL, now()),
('H05', '张😀伟', 'ABCDEFGHIJKLMNOPQR', '1', '0001-01-01', 'null', '<script>alert(1)</script>', '../../etc', NULL, now()),
('H06', '李四', '１１０１０５１９８００１０６００１８', '1', '9999-12-31', '∞', '乐坪街道', 'LP-DT-01'' OR ''1''=''1', NULL, now()),
('H07', 'Ω≈√∫', '000000000000000000', '2', '1900-02-28', '', '', '', repeat('长', 100000), now()),
('H08', '周', '11010519800108001', '9', '2000-02-29', '13800000008', 'addr', 'LP-DT-01', NULL, '1970-01-01 00:00:00+00'),
('BAD_CODE', 'bad sex code', NULL, '7', '1980-01-09', '13800000009', 'addr', 'LP-DT-01', NULL, now()),
('BAD_TIME', 'infinite time', NULL, '1', '1980-01-10', '13800000010', 'addr', 'LP-DT-01', NULL, 'infinity');
