-- 综治办 (comprehensive governance): the department's own system, as it
-- plausibly looks. Pinyin-initial column names, its own keys and codes.
CREATE TABLE IF NOT EXISTS zz_syrk (            -- 实有人口 actual residents
    rkbh      varchar(20) PRIMARY KEY,          -- 人口编号 resident number
    xm        varchar(50) NOT NULL,             -- 姓名 name
    gmsfhm    varchar(20),                      -- 公民身份号码 ID number (as typed)
    xb        char(1),                          -- 性别 1=男 2=女 9=未说明
    csrq      date,                             -- 出生日期
    lxdh      varchar(20),                      -- 联系电话
    jzdz      varchar(200),                     -- 居住地址 actual address
    wgbm      varchar(30),                      -- 网格编码 (综治's own grid code)
    bz        text,                             -- 备注 remarks (may be long: TOASTed)
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);

-- 网格 grids: 综治's own division of the city, the one the hub uses.
-- 区县 → 街道 → 社区 (一级网格) → 网格 (二级网格, about 300 households).
-- Codes: 街道 'LP' (乐坪街道), 社区 'LP-DT' (大塘社区), 网格 'LP-DT-01'.
CREATE TABLE IF NOT EXISTS zz_wg (
    wgbm      varchar(30) PRIMARY KEY,          -- 网格编码
    wgmc      varchar(100) NOT NULL,            -- 网格名称
    wgjb      char(1) NOT NULL,                 -- 网格级别 1=区县 2=街道 3=社区(一级网格) 4=网格(二级网格)
    sjwgbm    varchar(30),                      -- 上级网格编码
    xzqhdm    char(12),                         -- 统计用区划代码 (街道 9 位 / 社区 12 位, 右补 0)
    hs        integer,                          -- 户数
    rks       integer,                          -- 人口数
    wgfw      text,                             -- 网格范围 (四至描述)
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS zz_wg_sjwgbm_idx ON zz_wg (sjwgbm);

-- 房屋 houses and flats, as grid members collect them door to door.
CREATE TABLE IF NOT EXISTS zz_fw (
    fwbh      varchar(20) PRIMARY KEY,          -- 房屋编号
    bzdzbm    varchar(32),                      -- 公安标准地址编码 (if matched; often empty)
    fwdz      varchar(200) NOT NULL,            -- 房屋地址
    sqbm      varchar(30),                      -- 所属社区 (综治 community code, e.g. LP-DT)
    ldh       varchar(20),                      -- 楼栋号, e.g. '1栋'
    dyh       varchar(20),                      -- 单元号
    fh        varchar(20),                      -- 房号, e.g. '101'
    wgbm      varchar(30),                      -- 网格编码
    fwyt      char(1),                          -- 房屋用途 1=自住 2=出租 3=空置 4=经营 9=其他
    fzxm      varchar(50),                      -- 房主姓名
    fzlxdh    varchar(20),                      -- 房主联系电话
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS zz_fw_wgbm_idx ON zz_fw (wgbm);

-- 网格员 grid staff, "1+1+N": 1 网格长, 1 专职网格员, N 兼职网格员
-- (楼栋长, 物业, 志愿者, 党员...), plus 网格联络员. A person who leaves a
-- grid is deleted here (the personnel file keeps the history).
CREATE TABLE IF NOT EXISTS zz_wgy (
    wgybh     varchar(20) PRIMARY KEY,          -- 网格员编号
    xm        varchar(50) NOT NULL,             -- 姓名
    gmsfhm    varchar(20),                      -- 公民身份号码
    lxdh      varchar(20),                      -- 联系电话
    wgbm      varchar(30) NOT NULL,             -- 所在网格编码
    wgyjs     char(1) NOT NULL,                 -- 网格员角色 1=网格长 2=专职网格员 3=兼职网格员 4=网格联络员
    gzdw      varchar(100),                     -- 工作单位
    rzrq      date,                             -- 任职日期
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS zz_wgy_wgbm_idx ON zz_wgy (wgbm);

-- 网格事件: what grid members report and the centre dispatches
-- ("街道吹哨、部门报到").
CREATE TABLE IF NOT EXISTS zz_wgsj (
    sjbh      varchar(20) PRIMARY KEY,          -- 事件编号, e.g. SJ202309010001
    wgbm      varchar(30),                      -- 发生网格编码
    sjlx      char(2) NOT NULL,                 -- 事件类型 01=矛盾纠纷 02=治安 03=安全隐患 04=群众诉求 99=其他
    sjbt      varchar(200),                     -- 事件标题
    sjms      text,                             -- 事件描述 (may be long: TOASTed)
    fsdz      varchar(200),                     -- 发生地址
    sjzt      char(2) NOT NULL DEFAULT '01',    -- 事件状态 01=已上报 02=已受理 03=已分派 04=处置中 05=已办结 06=已归档 09=已退回
    sbrbh     varchar(20),                      -- 上报人 (网格员编号)
    sbsj      timestamptz NOT NULL DEFAULT now(),-- 上报时间
    czbm      varchar(100),                     -- 处置部门
    bjsj      timestamptz,                      -- 办结时间
    gxsj      timestamptz NOT NULL DEFAULT now()-- 更新时间
);
CREATE INDEX IF NOT EXISTS zz_wgsj_wgbm_idx ON zz_wgsj (wgbm);
CREATE INDEX IF NOT EXISTS zz_wgsj_sbsj_idx ON zz_wgsj (sbsj);
