#include "places.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const gh_gen_place_sub_t LOUXING[] = {
    {"长青街道", "长青", "CQ", GH_GEN_SUB_JIEDAO},
    {"乐坪街道", "乐坪", "LP", GH_GEN_SUB_JIEDAO},
    {"花山街道", "花山", "HS", GH_GEN_SUB_JIEDAO},
    {"大科街道", "大科", "DK", GH_GEN_SUB_JIEDAO},
    {"黄泥塘街道", "黄泥塘", "HNT", GH_GEN_SUB_JIEDAO},
    {"涟滨街道", "涟滨", "LB", GH_GEN_SUB_JIEDAO},
    {"石井街道", "石井", "SJ", GH_GEN_SUB_JIEDAO},
    {"大埠桥街道", "大埠桥", "DBQ", GH_GEN_SUB_JIEDAO},
    {"杉山镇", "杉山", "SS", GH_GEN_SUB_ZHEN},
    {"万宝镇", "万宝", "WB", GH_GEN_SUB_ZHEN},
    {"蛇形山镇", "蛇形山", "SXS", GH_GEN_SUB_ZHEN},
    {"茶园镇", "茶园", "CY", GH_GEN_SUB_ZHEN},
    {"双江乡", "双江", "SJ", GH_GEN_SUB_XIANG},
};

static const gh_gen_place_sub_t SHUANGFENG[] = {
    {"永丰街道", "永丰", "YF", GH_GEN_SUB_JIEDAO},
    {"荷叶镇", "荷叶", "HY", GH_GEN_SUB_ZHEN},
    {"井字镇", "井字", "JZ", GH_GEN_SUB_ZHEN},
    {"梓门桥镇", "梓门桥", "ZMQ", GH_GEN_SUB_ZHEN},
    {"杏子铺镇", "杏子铺", "XZP", GH_GEN_SUB_ZHEN},
    {"走马街镇", "走马街", "ZMJ", GH_GEN_SUB_ZHEN},
    {"三塘铺镇", "三塘铺", "STP", GH_GEN_SUB_ZHEN},
    {"甘棠镇", "甘棠", "GT", GH_GEN_SUB_ZHEN},
    {"青树坪镇", "青树坪", "QSP", GH_GEN_SUB_ZHEN},
    {"锁石镇", "锁石", "SS", GH_GEN_SUB_ZHEN},
    {"花门镇", "花门", "HM", GH_GEN_SUB_ZHEN},
    {"洪山殿镇", "洪山殿", "HSD", GH_GEN_SUB_ZHEN},
    {"石牛乡", "石牛", "SN", GH_GEN_SUB_XIANG},
    {"沙塘乡", "沙塘", "ST", GH_GEN_SUB_XIANG},
    {"印塘乡", "印塘", "YT", GH_GEN_SUB_XIANG},
};

static const gh_gen_place_sub_t XINHUA[] = {
    {"上梅街道", "上梅", "SM", GH_GEN_SUB_JIEDAO},
    {"枫林街道", "枫林", "FL", GH_GEN_SUB_JIEDAO},
    {"琅塘镇", "琅塘", "LT", GH_GEN_SUB_ZHEN},
    {"洋溪镇", "洋溪", "YX", GH_GEN_SUB_ZHEN},
    {"槎溪镇", "槎溪", "CX", GH_GEN_SUB_ZHEN},
    {"游家镇", "游家", "YJ", GH_GEN_SUB_ZHEN},
    {"西河镇", "西河", "XH", GH_GEN_SUB_ZHEN},
    {"吉庆镇", "吉庆", "JQ", GH_GEN_SUB_ZHEN},
    {"曹家镇", "曹家", "CJ", GH_GEN_SUB_ZHEN},
    {"温塘镇", "温塘", "WT", GH_GEN_SUB_ZHEN},
    {"圳上镇", "圳上", "ZS", GH_GEN_SUB_ZHEN},
    {"孟公镇", "孟公", "MG", GH_GEN_SUB_ZHEN},
    {"白溪镇", "白溪", "BX", GH_GEN_SUB_ZHEN},
    {"石冲口镇", "石冲口", "SCK", GH_GEN_SUB_ZHEN},
    {"水车镇", "水车", "SC", GH_GEN_SUB_ZHEN},
    {"奉家镇", "奉家", "FJ", GH_GEN_SUB_ZHEN},
    {"田坪镇", "田坪", "TP", GH_GEN_SUB_ZHEN},
    {"桑梓镇", "桑梓", "SZ", GH_GEN_SUB_ZHEN},
    {"炉观镇", "炉观", "LG", GH_GEN_SUB_ZHEN},
    {"天门乡", "天门", "TM", GH_GEN_SUB_XIANG},
    {"科头乡", "科头", "KT", GH_GEN_SUB_XIANG},
    {"维山乡", "维山", "WS", GH_GEN_SUB_XIANG},
    {"油溪乡", "油溪", "YX", GH_GEN_SUB_XIANG},
    {"荣华乡", "荣华", "RH", GH_GEN_SUB_XIANG},
    {"金凤乡", "金凤", "JF", GH_GEN_SUB_XIANG},
};

static const gh_gen_place_sub_t LENGSHUIJIANG[] = {
    {"冷水江街道", "冷水江", "LSJ", GH_GEN_SUB_JIEDAO},
    {"布溪街道", "布溪", "BX", GH_GEN_SUB_JIEDAO},
    {"锡矿山街道", "锡矿山", "XKS", GH_GEN_SUB_JIEDAO},
    {"沙塘湾街道", "沙塘湾", "STW", GH_GEN_SUB_JIEDAO},
    {"金竹山镇", "金竹山", "JZS", GH_GEN_SUB_ZHEN},
    {"禾青镇", "禾青", "HQ", GH_GEN_SUB_ZHEN},
    {"铎山镇", "铎山", "DS", GH_GEN_SUB_ZHEN},
    {"三尖镇", "三尖", "SJ", GH_GEN_SUB_ZHEN},
    {"渣渡镇", "渣渡", "ZD", GH_GEN_SUB_ZHEN},
    {"岩口镇", "岩口", "YK", GH_GEN_SUB_ZHEN},
    {"中连乡", "中连", "ZL", GH_GEN_SUB_XIANG},
};

static const gh_gen_place_sub_t LIANYUAN[] = {
    {"蓝田街道", "蓝田", "LT", GH_GEN_SUB_JIEDAO},
    {"六亩塘镇", "六亩塘", "LMT", GH_GEN_SUB_ZHEN},
    {"湄江镇", "湄江", "MJ", GH_GEN_SUB_ZHEN},
    {"伏口镇", "伏口", "FK", GH_GEN_SUB_ZHEN},
    {"杨市镇", "杨市", "YS", GH_GEN_SUB_ZHEN},
    {"桥头河镇", "桥头河", "QTH", GH_GEN_SUB_ZHEN},
    {"七星街镇", "七星街", "QXJ", GH_GEN_SUB_ZHEN},
    {"石马山镇", "石马山", "SMS", GH_GEN_SUB_ZHEN},
    {"安平镇", "安平", "AP", GH_GEN_SUB_ZHEN},
    {"荷塘镇", "荷塘", "HT", GH_GEN_SUB_ZHEN},
    {"金石镇", "金石", "JS", GH_GEN_SUB_ZHEN},
    {"白马镇", "白马", "BM", GH_GEN_SUB_ZHEN},
    {"斗笠山镇", "斗笠山", "DLS", GH_GEN_SUB_ZHEN},
    {"龙塘镇", "龙塘", "LT", GH_GEN_SUB_ZHEN},
    {"渡头塘镇", "渡头塘", "DTT", GH_GEN_SUB_ZHEN},
    {"茅塘镇", "茅塘", "MT", GH_GEN_SUB_ZHEN},
    {"水洞底镇", "水洞底", "SDD", GH_GEN_SUB_ZHEN},
    {"枫坪镇", "枫坪", "FP", GH_GEN_SUB_ZHEN},
    {"古塘乡", "古塘", "GT", GH_GEN_SUB_XIANG},
    {"三甲乡", "三甲", "SJ", GH_GEN_SUB_XIANG},
};

/* Grids per district: 娄星区 2,684 as the study reports; the other
 * 10,503 of the city's 13,187 shared by resident population. */
static const gh_gen_place_district_t DISTRICTS[] = {
    {"娄星区", "431302", "LX", 2684, LOUXING, N(LOUXING)},
    {"双峰县", "431321", "SF", 2950, SHUANGFENG, N(SHUANGFENG)},
    {"新化县", "431322", "XH", 3830, XINHUA, N(XINHUA)},
    {"冷水江市", "431381", "LSJ", 1100, LENGSHUIJIANG, N(LENGSHUIJIANG)},
    {"涟源市", "431382", "LY", 2623, LIANYUAN, N(LIANYUAN)},
};

const gh_gen_place_district_t *gh_gen_place_districts(size_t *n) {
    *n = N(DISTRICTS);
    return DISTRICTS;
}

/* 乐坪街道: 131 grids in 12 communities. 大塘 and 童家 as the department
 * samples have them (3 and 2 grids). */
static const gh_gen_place_comm_t LEPING[] = {
    {"大塘", "DT", 3, "乐坪大道", 168, "大塘小区"},
    {"童家", "TJ", 2, "童家路", 26, "童家新村"},
    {"新星", "XX", 13, NULL, 0, NULL},
    {"月塘", "YT", 13, NULL, 0, NULL},
    {"洪家", "HJ", 13, NULL, 0, NULL},
    {"光明", "GM", 13, NULL, 0, NULL},
    {"青山", "QS", 13, NULL, 0, NULL},
    {"湘阳", "XY", 13, NULL, 0, NULL},
    {"金桥", "JQ", 12, NULL, 0, NULL},
    {"桂花", "GH", 12, NULL, 0, NULL},
    {"春园", "CY", 12, NULL, 0, NULL},
    {"石塘", "ST", 12, NULL, 0, NULL},
};

const gh_gen_place_comm_t *gh_gen_place_leping(size_t *n) {
    *n = N(LEPING);
    return LEPING;
}

static const gh_gen_stem_t STEMS[] = {
    {"金山", "JS"}, {"龙塘", "LT"}, {"石桥", "SQ"}, {"新华", "XH"},
    {"红星", "HX"}, {"白马", "BM"}, {"黄土", "HT"}, {"杨柳", "YL"},
    {"桃花", "TH"}, {"枫林", "FL"}, {"双溪", "SX"}, {"长岭", "CL"},
    {"清水", "QS"}, {"太平", "TP"}, {"和平", "HP"}, {"民主", "MZ"},
    {"团结", "TJ"}, {"胜利", "SL"}, {"光辉", "GH"}, {"东风", "DF"},
    {"向阳", "XY"}, {"前进", "QJ"}, {"幸福", "XF"}, {"建设", "JS"},
    {"文化", "WH"}, {"人民", "RM"}, {"五一", "WY"}, {"八一", "BY"},
    {"梅塘", "MT"}, {"荷花", "HH"}, {"竹山", "ZS"}, {"松林", "SL"},
    {"柏树", "BS"}, {"樟树", "ZS"}, {"桂竹", "GZ"}, {"青龙", "QL"},
    {"白沙", "BS"}, {"黄龙", "HL"}, {"金龙", "JL"}, {"银塘", "YT"},
    {"铜鼓", "TG"}, {"铁山", "TS"}, {"锡溪", "XX"}, {"水口", "SK"},
    {"山口", "SK"}, {"河边", "HB"}, {"湾头", "WT"}, {"塘湾", "TW"},
    {"坪上", "PS"}, {"岭下", "LX"}, {"坳上", "AS"}, {"冲口", "CK"},
    {"桥头", "QT"}, {"石门", "SM"}, {"石狮", "SS"}, {"龙泉", "LQ"},
    {"龙山", "LS"}, {"凤凰", "FH"}, {"麒麟", "QL"}, {"狮子", "SZ"},
    {"象山", "XS"}, {"马头", "MT"}, {"牛角", "NJ"}, {"鹅塘", "ET"},
    {"鹤鸣", "HM"}, {"燕子", "YZ"}, {"杉木", "SM"}, {"茶山", "CS"},
    {"桑园", "SY"}, {"栗山", "LS"}, {"梓木", "ZM"}, {"枧田", "JT"},
    {"田心", "TX"}, {"田庄", "TZ"}, {"新田", "XT"}, {"大田", "DT"},
    {"高田", "GT"}, {"上湾", "SW"}, {"下湾", "XW"}, {"中和", "ZH"},
    {"长丰", "CF"}, {"永兴", "YX"}, {"丰收", "FS"}, {"兴隆", "XL"},
    {"富民", "FM"}, {"安乐", "AL"}, {"福星", "FX"}, {"吉星", "JX"},
    {"联星", "LX"}, {"联合", "LH"}, {"团山", "TS"}, {"群力", "QL"},
    {"红旗", "HQ"}, {"跃进", "YJ"}, {"五星", "WX"}, {"三星", "SX"},
    {"双星", "SX"}, {"金星", "JX"}, {"新塘", "XT"}, {"老屋", "LW"},
    {"新屋", "XW"}, {"大屋", "DW"}, {"荷叶", "HY"}, {"杏花", "XH"},
    {"梨树", "LS"}, {"花桥", "HQ"}, {"石板", "SB"}, {"石溪", "SX"},
    {"东山", "DS"}, {"西山", "XS"}, {"南岳", "NY"}, {"北塘", "BT"},
    {"湘中", "XZ"}, {"资江", "ZJ"}, {"涟水", "LS"}, {"孙水", "SS"},
    {"月光", "YG"}, {"星光", "XG"}, {"朝阳", "CY"}, {"春晖", "CH"},
    {"秋林", "QL"}, {"长春", "CC"}, {"万福", "WF"}, {"百福", "BF"},
    {"锦绣", "JX"}, {"华新", "HX"}, {"育才", "YC"}, {"书院", "SY"},
    {"书香", "SX"}, {"文昌", "WC"}, {"乐园", "LY"}, {"新风", "XF"},
    {"大坪", "DP"}, {"小坪", "XP"}, {"长冲", "CC"}, {"竹园", "ZY"},
    {"竹林", "ZL"}, {"杉林", "SL"}, {"梅花", "MH"}, {"兰花", "LH"},
    {"菊花", "JH"}, {"芙蓉", "FR"}, {"紫荆", "ZJ"}, {"玉泉", "YQ"},
    {"温泉", "WQ"}, {"泉塘", "QT"}, {"井头", "JT"}, {"塘头", "TT"},
    {"坝头", "BT"}, {"洲上", "ZS"}, {"沙洲", "SZ"}, {"鹿鸣", "LM"},
};

const gh_gen_stem_t *gh_gen_place_stems(size_t *n) {
    *n = N(STEMS);
    return STEMS;
}

static const char *const STREET_SUFFIX[] = {"路", "街", "大道", "路", "巷"};
static const char *const COMPOUND_SUFFIX[] = {"小区", "新村", "花园", "家园",
                                              "苑",   "佳园", "公寓", "雅苑",
                                              "名都", "丽景"};

const char *gh_gen_place_street_suffix(size_t i) {
    return STREET_SUFFIX[i % N(STREET_SUFFIX)];
}

const char *gh_gen_place_compound_suffix(size_t i) {
    return COMPOUND_SUFFIX[i % N(COMPOUND_SUFFIX)];
}

/* City units first (they have their own party branch), then other work
 * places. */
static const gh_gen_employer_t EMPLOYERS[] = {
    {"", NULL},
    {"娄底市财政局", "D43130000501"},
    {"中共娄底市委组织部", "D43130000103"},
    {"娄底市教育局", "D43130000201"},
    {"娄底市卫生健康委员会", "D43130000301"},
    {"娄底市公安局", "D43130000401"},
    {"娄底市人力资源和社会保障局", "D43130000601"},
    {"娄底市住房和城乡建设局", "D43130000701"},
    {"娄底市自然资源和规划局", "D43130000801"},
    {"娄底市市场监督管理局", "D43130000901"},
    {"娄底市民政局", "D43130001001"},
    {"娄底市城市管理和综合执法局", "D43130001101"},
    {"娄底市生态环境局", "D43130001201"},
    {"娄底市交通运输局", "D43130001301"},
    {"娄底市应急管理局", "D43130001401"},
    {"国家税务总局娄底市税务局", "D43130001501"},
    {"娄底市司法局", "D43130001601"},
    {"娄底市中心医院", "D43130002101"},
    {"娄底市第一中学", "D43130002201"},
    {"湖南人文科技学院", "D43130002301"},
    {"国网娄底供电公司", "D43130003101"},
    {"涟钢集团", NULL},
    {"娄底市华达电子厂", NULL},
    {"娄底市乐坪建材商行", NULL},
    {"湖南三一中阳机械有限公司", NULL},
    {"娄底市万豪超市", NULL},
    {"娄底市公交集团", NULL},
    {"中国移动娄底分公司", NULL},
    {"中国工商银行娄底分行", NULL},
    {"娄底市顺丰速运营业部", NULL},
    {"湖南博长控股集团", NULL},
    {"冷水江钢铁有限责任公司", NULL},
    {"锡矿山闪星锑业有限责任公司", NULL},
    {"湖南金竹山电厂", NULL},
    {"湘中物流园", NULL},
    {"娄底市金海湾酒店", NULL},
    {"娄底市建筑工程公司", NULL},
    {"娄底市自来水公司", NULL},
    {"娄底市燃气有限公司", NULL},
    {"娄底市第二人民医院", NULL},
    {"娄星区乐坪小学", NULL},
    {"娄底市第三中学", NULL},
    {"双峰县农机厂", NULL},
    {"新化县文印产业园", NULL},
    {"涟源市桥头河蔬菜基地", NULL},
    {"个体经营", NULL},
    {"个体经营", NULL},
    {"务农", NULL},
    {"务农", NULL},
    {"务农", NULL},
};

size_t gh_gen_employer_count(void) {
    return N(EMPLOYERS);
}
const gh_gen_employer_t *gh_gen_employer(size_t i) {
    return &EMPLOYERS[i < N(EMPLOYERS) ? i : 0];
}
size_t gh_gen_unit_count(void) {
    return 20;
}

static const char *const PROPERTY[] = {
    "娄底市乐居物业有限公司", "娄底市安家物业服务有限公司",
    "湖南和顺物业管理有限公司", "娄底市万家物业有限公司",
    "娄底市湘中物业管理有限公司"};

const char *gh_gen_property_company(size_t i) {
    return PROPERTY[i % N(PROPERTY)];
}
size_t gh_gen_property_company_count(void) {
    return N(PROPERTY);
}

/* Where the floating population comes from: mostly the rest of Hunan. */
static const gh_gen_origin_t ORIGINS[] = {
    {"650102", "新疆维吾尔自治区乌鲁木齐市天山区解放南路88号", 3},
    {"430304", "湖南省湘潭市岳塘区建设南路16号", 90},
    {"430381", "湖南省湘乡市东山街道望春门社区", 60},
    {"430502", "湖南省邵阳市双清区东风路5号", 120},
    {"430582", "湖南省邵东市两市镇人民路", 110},
    {"430421", "湖南省衡阳县西渡镇蒸阳北路", 60},
    {"430102", "湖南省长沙市芙蓉区五一大道238号", 40},
    {"430602", "湖南省岳阳市岳阳楼区巴陵中路", 30},
    {"430703", "湖南省常德市鼎城区武陵镇", 30},
    {"430902", "湖南省益阳市资阳区资江西路", 50},
    {"430923", "湖南省安化县东坪镇", 60},
    {"431102", "湖南省永州市零陵区南津中路", 40},
    {"431202", "湖南省怀化市鹤城区迎丰中路", 40},
    {"433101", "湖南省吉首市乾州街道", 30},
    {"450102", "广西壮族自治区南宁市兴宁区民生路", 15},
    {"520102", "贵州省贵阳市南明区中华南路", 15},
    {"360302", "江西省萍乡市安源区跃进北路", 20},
    {"421002", "湖北省荆州市沙市区北京中路", 15},
};

size_t gh_gen_origin_count(void) {
    return N(ORIGINS);
}
const gh_gen_origin_t *gh_gen_origin(size_t i) {
    return &ORIGINS[i < N(ORIGINS) ? i : 0];
}

static const char *const AWAY[] = {
    "广东省深圳市宝安区西乡街道",   "广东省东莞市长安镇",
    "广东省广州市白云区三元里街道", "湖南省长沙市岳麓区望城坡街道",
    "浙江省杭州市萧山区新塘街道",   "广东省佛山市南海区桂城街道",
    "上海市闵行区莘庄镇",           "湖南省长沙市雨花区侯家塘街道",
};

const char *gh_gen_away_address(size_t i) {
    return AWAY[i % N(AWAY)];
}
size_t gh_gen_away_address_count(void) {
    return N(AWAY);
}
