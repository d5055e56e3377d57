-- 计生 (family planning / 卫健委 人口家庭): the family-planning information
-- system as it plausibly looks after two decades of migrations from a
-- 1990s system — every date is varchar(8) 'YYYYMMDD' ('00000000' when
-- unknown), sex and relations are Chinese text (男/女, 户主/妻/子),
-- ethnicity is typed (汉, 汉族, 土家), old ID numbers were never upgraded.
-- It covers only households with children or women of child-bearing age
-- (育龄妇女, 15-49), including floating ones (流入). Its unit is the
-- community, by its 12-digit statistical area code (统计用区划代码), e.g.
-- 431302002001 大塘社区; there are no grids here.
-- Records are cancelled (zxbz='1'), never deleted.

CREATE TABLE IF NOT EXISTS js_jtda (             -- 家庭档案 family files
    jtbh      varchar(16) PRIMARY KEY,          -- 家庭编号 = 社区代码(12) + 序号(4)
    hzxm      varchar(50) NOT NULL,             -- 户主姓名
    hzsfzh    varchar(20),                      -- 户主身份证号 (15 or 18, as typed)
    jtdz      varchar(200),                     -- 家庭住址
    sqdm      char(12) NOT NULL,                -- 社区代码 (统计用区划代码)
    jtrks     smallint,                         -- 家庭人口数
    ldbz      char(1) NOT NULL DEFAULT '0',     -- 流动标志 0=本地 1=流入 2=流出
    jdrq      varchar(8),                       -- 建档日期 YYYYMMDD
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=正常 1=注销(迁出)
    czy       varchar(20),                      -- 操作员
    czsj      timestamptz NOT NULL DEFAULT now()-- 操作时间
);
CREATE INDEX IF NOT EXISTS js_jtda_sqdm_idx ON js_jtda (sqdm);

CREATE TABLE IF NOT EXISTS js_jtcy (             -- 家庭成员 family members
    cybh      varchar(18) PRIMARY KEY,          -- 成员编号 = 家庭编号(16) + 序号(2)
    jtbh      varchar(16) NOT NULL,             -- 家庭编号 -> js_jtda.jtbh
    xm        varchar(50) NOT NULL,             -- 姓名
    xb        varchar(2),                       -- 性别 男/女
    csrq      varchar(8),                       -- 出生日期 YYYYMMDD
    sfzh      varchar(20),                      -- 身份证号 (as typed)
    mz        varchar(20),                      -- 民族 (typed: 汉 / 汉族 / 土家 ...)
    yhzgx     varchar(10),                      -- 与户主关系 户主/妻/夫/子/女/父亲/母亲/孙子 ...
    hyzk      char(2),                          -- 婚姻状况 GB/T 2261.2 10=未婚 20=已婚 30=丧偶 40=离婚
    lxdh      varchar(20),                      -- 联系电话
    sqdm      char(12),                         -- 社区代码 (copied from the family file)
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=正常 1=注销(死亡/迁出)
    czy       varchar(20),                      -- 操作员
    czsj      timestamptz NOT NULL DEFAULT now()-- 操作时间
);
CREATE INDEX IF NOT EXISTS js_jtcy_jtbh_idx ON js_jtcy (jtbh);
CREATE INDEX IF NOT EXISTS js_jtcy_sfzh_idx ON js_jtcy (sfzh);

CREATE TABLE IF NOT EXISTS js_csdj (             -- 出生登记 birth registrations
    csdjbh    varchar(20) PRIMARY KEY,          -- 出生登记编号
    jtbh      varchar(16),                      -- 家庭编号 -> js_jtda.jtbh
    cybh      varchar(18),                      -- 婴儿成员编号 -> js_jtcy.cybh (once added to the family)
    xm        varchar(50),                      -- 婴儿姓名 (may be empty at registration)
    xb        varchar(2),                       -- 性别 男/女
    csrq      varchar(8) NOT NULL,              -- 出生日期 YYYYMMDD
    csdd      varchar(100),                     -- 出生地点 (hospital)
    hc        smallint NOT NULL,                -- 孩次 (birth order)
    csyxzmbh  varchar(20),                      -- 出生医学证明编号
    mqxm      varchar(50),                      -- 母亲姓名
    mqsfzh    varchar(20),                      -- 母亲身份证号
    fqxm      varchar(50),                      -- 父亲姓名
    fqsfzh    varchar(20),                      -- 父亲身份证号
    djrq      varchar(8),                       -- 登记日期 YYYYMMDD
    czy       varchar(20),                      -- 操作员
    czsj      timestamptz NOT NULL DEFAULT now()-- 操作时间
);
CREATE INDEX IF NOT EXISTS js_csdj_jtbh_idx ON js_csdj (jtbh);

CREATE TABLE IF NOT EXISTS js_yfn (              -- 育龄妇女 women of child-bearing age (15-49)
    yfnbh     varchar(20) PRIMARY KEY,          -- 育龄妇女编号 = 'YF' + 成员编号
    cybh      varchar(18),                      -- 成员编号 -> js_jtcy.cybh
    jtbh      varchar(16),                      -- 家庭编号 -> js_jtda.jtbh
    xm        varchar(50) NOT NULL,             -- 姓名
    sfzh      varchar(20),                      -- 身份证号 (as typed)
    csrq      varchar(8),                       -- 出生日期 YYYYMMDD
    hyzk      char(2),                          -- 婚姻状况 GB/T 2261.2
    xyzns     smallint NOT NULL DEFAULT 0,      -- 现有子女数
    jycs      char(2),                          -- 现用节育措施 (see js_jycs.cslx); null = none
    ldbz      char(1) NOT NULL DEFAULT '0',     -- 流动标志 0=本地 1=流入 2=流出
    djrq      varchar(8),                       -- 登记日期 YYYYMMDD
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=正常 1=注销(超龄/迁出/死亡)
    czy       varchar(20),                      -- 操作员
    czsj      timestamptz NOT NULL DEFAULT now()-- 操作时间
);
CREATE INDEX IF NOT EXISTS js_yfn_cybh_idx ON js_yfn (cybh);

CREATE TABLE IF NOT EXISTS js_jycs (             -- 节育措施 contraception measures taken (history)
    jlbh      varchar(20) PRIMARY KEY,          -- 记录编号
    yfnbh     varchar(20),                      -- 育龄妇女编号 -> js_yfn.yfnbh (null for a husband's measure)
    cybh      varchar(18),                      -- 成员编号 of who took the measure -> js_jtcy.cybh
    jtbh      varchar(16),                      -- 家庭编号
    xm        varchar(50),                      -- 姓名
    sfzh      varchar(20),                      -- 身份证号
    cslx      char(2) NOT NULL,                 -- 措施类型 01=放置宫内节育器 02=输卵管结扎 03=输精管结扎 04=皮下埋植 05=口服避孕药 06=避孕套 07=外用避孕药 08=取出宫内节育器 09=其他
    csrq      varchar(8),                       -- 落实日期 YYYYMMDD
    ssdw      varchar(100),                     -- 手术(服务)单位
    czy       varchar(20),                      -- 操作员
    czsj      timestamptz NOT NULL DEFAULT now()-- 操作时间
);
CREATE INDEX IF NOT EXISTS js_jycs_cybh_idx ON js_jycs (cybh);
