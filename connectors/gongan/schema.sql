-- 公安 (public security): the police station's population system, as it
-- plausibly looks — 常住人口 (household registration, 户籍), 流动人口
-- (floating population, 暂住登记 / 居住证) and the 标准地址 register that
-- every other department's addresses should, but rarely do, point to.
-- Codes follow the national standards police systems use: 性别 GB/T 2261.1,
-- 民族 GB/T 3304, 与户主关系 GB/T 4761, 行政区划 GB/T 2260. Dates are `date`.
-- Police divide the city into 警务责任区 (one per community: "一区一警"),
-- codes 'ZRQ-' + 6-digit district + 2-digit station + 2-digit beat.
-- Records are never deleted: a cancelled record keeps zxbz='1' (注销).

CREATE TABLE IF NOT EXISTS ga_bzdz (            -- 标准地址 standard addresses
    dzbm      varchar(32) PRIMARY KEY,          -- 地址编码: 区划6+街道3+社区3+楼栋4+单元2+户室4
    xzqhdm    char(6) NOT NULL,                 -- 行政区划代码 (431302 娄星区)
    jdxzdm    char(9),                          -- 街道(乡镇)代码
    sqjwhdm   char(12),                         -- 社区(居委会)代码
    jlxmc     varchar(100),                     -- 街路巷名称
    mph       varchar(20),                      -- 门牌号
    xqmc      varchar(100),                     -- 小区名称
    ldh       varchar(20),                      -- 楼栋号
    dyh       varchar(20),                      -- 单元号
    hsh       varchar(20),                      -- 户室号
    dzjb      char(1) NOT NULL,                 -- 地址级别 3=门楼牌 4=楼栋 5=户室
    dzqc      varchar(300) NOT NULL,            -- 地址全称
    pcsdm     char(12),                         -- 派出所代码 (公安机关机构代码)
    zrqdm     varchar(20),                      -- 警务责任区代码
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=有效 1=注销
    djsj      timestamptz NOT NULL DEFAULT now(),-- 登记时间
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS ga_bzdz_sqjwhdm_idx ON ga_bzdz (sqjwhdm);

CREATE TABLE IF NOT EXISTS ga_hu (               -- 户 households of the hukou register (户口簿)
    hh        varchar(12) PRIMARY KEY,          -- 户号
    hlb       char(1) NOT NULL DEFAULT '1',     -- 户类别 1=家庭户 2=集体户
    hzxm      varchar(50),                      -- 户主姓名
    hzgmsfhm  varchar(18),                      -- 户主公民身份号码
    hjdzbm    varchar(32),                      -- 户籍地址编码 -> ga_bzdz.dzbm
    hjdz      varchar(300),                     -- 户籍地址
    pcsdm     char(12),                         -- 派出所代码
    zrqdm     varchar(20),                      -- 警务责任区代码
    lhrq      date,                             -- 立户日期
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=有效 1=注销(户已撤销)
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);

CREATE TABLE IF NOT EXISTS ga_hjrk (             -- 常住人口 registered (hukou) residents
    rybh      varchar(20) PRIMARY KEY,          -- 人员编号
    hh        varchar(12) NOT NULL,             -- 户号 -> ga_hu.hh
    yhzgx     char(2),                          -- 与户主关系 GB/T 4761 (02=户主 10=配偶 20=子 30=女 ...)
    xm        varchar(50) NOT NULL,             -- 姓名
    cym       varchar(50),                      -- 曾用名
    xb        char(1),                          -- 性别 GB/T 2261.1 0=未知 1=男 2=女 9=未说明
    mz        char(2),                          -- 民族 GB/T 3304 (01=汉族 15=土家族 ...)
    csrq      date,                             -- 出生日期
    gmsfhm    varchar(18),                      -- 公民身份号码
    hyzk      char(2),                          -- 婚姻状况 GB/T 2261.2 (10=未婚 20=已婚 ...)
    whcd      char(2),                          -- 文化程度 GB/T 4658
    fwcs      varchar(100),                     -- 服务处所
    lxdh      varchar(20),                      -- 联系电话
    hjdzbm    varchar(32),                      -- 户籍地址编码 -> ga_bzdz.dzbm
    hjdz      varchar(300),                     -- 户籍地址
    sjjzdzbm  varchar(32),                      -- 实际居住地址编码
    sjjzdz    varchar(300),                     -- 实际居住地址
    pcsdm     char(12),                         -- 派出所代码
    zrqdm     varchar(20),                      -- 警务责任区代码
    lhrq      date,                             -- 落户日期 (本户)
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=正常 1=注销
    zxrq      date,                             -- 注销日期
    zxyy      varchar(20),                      -- 注销原因 (死亡, 迁出, 出国定居...)
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS ga_hjrk_hh_idx ON ga_hjrk (hh);
CREATE INDEX IF NOT EXISTS ga_hjrk_gmsfhm_idx ON ga_hjrk (gmsfhm);

CREATE TABLE IF NOT EXISTS ga_ldrk (             -- 流动人口 floating population (暂住登记)
    ldrybh    varchar(20) PRIMARY KEY,          -- 流动人员编号
    xm        varchar(50) NOT NULL,             -- 姓名
    xb        char(1),                          -- 性别 GB/T 2261.1
    mz        char(2),                          -- 民族 GB/T 3304
    csrq      date,                             -- 出生日期
    gmsfhm    varchar(18),                      -- 公民身份号码
    hjdqh     char(6),                          -- 户籍地区划代码
    hjdz      varchar(300),                     -- 户籍地址
    zzdzbm    varchar(32),                      -- 暂住地址编码 -> ga_bzdz.dzbm
    zzdz      varchar(300),                     -- 暂住地址
    zzsy      char(2),                          -- 暂住事由 01=务工 02=经商 03=投靠亲友 04=就学 05=就医 99=其他
    zslx      char(1),                          -- 住所类型 1=租赁房屋 2=单位内部 3=自购房 4=借住 9=其他
    fwcs      varchar(100),                     -- 服务处所
    lxdh      varchar(20),                      -- 联系电话
    djrq      date NOT NULL,                    -- 登记日期
    jzzbh     varchar(30),                      -- 居住证编号
    jzzyxqz   date,                             -- 居住证有效期至
    pcsdm     char(12),                         -- 派出所代码
    zrqdm     varchar(20),                      -- 警务责任区代码
    zxbz      char(1) NOT NULL DEFAULT '0',     -- 注销标志 0=在住 1=注销(已离开)
    zxrq      date,                             -- 注销日期
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS ga_ldrk_gmsfhm_idx ON ga_ldrk (gmsfhm);
