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
