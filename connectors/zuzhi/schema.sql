-- 组织部 (organization department, party building 党建): the party-member
-- management system as it plausibly looks. Keys are 32-character GUIDs
-- (as the national party-member information system issues them), sex and
-- ethnicity are stored as text (男/女, 汉族), dates as `date`.
-- Party building divides the city into its own 党建网格: 街道党工委 →
-- 社区党委 → 网格党支部, codes 'DJ-' + pinyin initials, e.g.
-- 'DJ-LPJD-DTSQ-01' (乐坪街道 大塘社区 第1网格). 大塘社区 has two party
-- grids where 综治 has three.
-- A member who dies or leaves the party keeps a row with dyzt changed.

CREATE TABLE IF NOT EXISTS dj_wg (               -- 党建网格 party-building grids
    wgdm      varchar(30) PRIMARY KEY,          -- 网格代码
    wgmc      varchar(100) NOT NULL,            -- 网格名称
    wgcj      varchar(10) NOT NULL,             -- 网格层级 街道/社区/网格
    sjwgdm    varchar(30),                      -- 上级网格代码
    dzzdm     varchar(20),                      -- 对应党组织代码 -> dj_dzb.dzzdm
    wgzxm     varchar(50),                      -- 网格长姓名 (often a cadre sent down, see dj_xcgb)
    hs        integer,                          -- 覆盖户数
    xgsj      timestamptz NOT NULL DEFAULT now()-- 修改时间
);

CREATE TABLE IF NOT EXISTS dj_dzb (              -- 党组织 party organizations (党委/党总支/党支部)
    dzzdm     varchar(20) PRIMARY KEY,          -- 党组织代码
    dzzmc     varchar(200) NOT NULL,            -- 党组织名称
    dzzlb     varchar(10) NOT NULL,             -- 党组织类别 党工委/党委/党总支/党支部
    sjdzzdm   varchar(20),                      -- 上级党组织代码
    djwgdm    varchar(30),                      -- 所在党建网格 -> dj_wg.wgdm
    sjxm      varchar(50),                      -- 书记姓名
    lxdh      varchar(20),                      -- 联系电话
    clrq      date,                             -- 成立日期
    dys       integer,                          -- 党员数
    xgsj      timestamptz NOT NULL DEFAULT now()-- 修改时间
);
CREATE INDEX IF NOT EXISTS dj_dzb_sjdzzdm_idx ON dj_dzb (sjdzzdm);

CREATE TABLE IF NOT EXISTS dj_dyxx (             -- 党员信息 party members
    dyid      char(32) PRIMARY KEY,             -- 党员标识 (GUID)
    xm        varchar(50) NOT NULL,             -- 姓名
    xb        varchar(2),                       -- 性别 男/女
    mz        varchar(20),                      -- 民族 (name: 汉族, 土家族 ...)
    csrq      date,                             -- 出生日期
    gmsfhm    varchar(20),                      -- 公民身份号码
    xl        varchar(20),                      -- 学历
    gzdw      varchar(100),                     -- 工作单位
    rdrq      date,                             -- 入党日期
    zzrq      date,                             -- 转正日期 (null while 预备党员)
    dylb      varchar(10) NOT NULL,             -- 党员类别 正式党员/预备党员
    dzzdm     varchar(20),                      -- 所在党组织代码 -> dj_dzb.dzzdm
    djwgdm    varchar(30),                      -- 所在党建网格 (居住地) -> dj_wg.wgdm
    lxdh      varchar(20),                      -- 联系电话
    jtzz      varchar(200),                     -- 家庭住址
    dyzt      varchar(10) NOT NULL DEFAULT '正常', -- 党员状态 正常/停止党籍/出党/死亡
    xgsj      timestamptz NOT NULL DEFAULT now()-- 修改时间
);
CREATE INDEX IF NOT EXISTS dj_dyxx_dzzdm_idx ON dj_dyxx (dzzdm);
CREATE INDEX IF NOT EXISTS dj_dyxx_gmsfhm_idx ON dj_dyxx (gmsfhm);

CREATE TABLE IF NOT EXISTS dj_xcgb (             -- 下沉干部 cadres sent down to grids
    xcid      varchar(20) PRIMARY KEY,          -- 下沉编号, e.g. XC2023000123
    dyid      char(32),                         -- 党员标识, if a party member -> dj_dyxx.dyid
    xm        varchar(50) NOT NULL,             -- 姓名
    xb        varchar(2),                       -- 性别 男/女
    gmsfhm    varchar(20),                      -- 公民身份号码
    lxdh      varchar(20),                      -- 联系电话
    pcdw      varchar(100) NOT NULL,            -- 派出单位
    zw        varchar(50),                      -- 职务 (in the sending unit)
    xcwgdm    varchar(30) NOT NULL,             -- 下沉网格 -> dj_wg.wgdm
    wgzw      varchar(10) NOT NULL,             -- 网格职务 网格长/网格指导员/网格员/联络员
    xcrq      date NOT NULL,                    -- 下沉日期
    zhrq      date,                             -- 召回日期
    zt        varchar(10) NOT NULL DEFAULT '在岗', -- 状态 在岗/已召回
    xgsj      timestamptz NOT NULL DEFAULT now()-- 修改时间
);
CREATE INDEX IF NOT EXISTS dj_xcgb_xcwgdm_idx ON dj_xcgb (xcwgdm);
