/* Fuzzy pinyin: the sound merges that pinyin input methods offer as
 * options (模糊音) because so many speakers make them, and that a clerk
 * typing a name heard aloud makes too. Loudi speaks Xiang (湘语): n and l
 * are one sound there, hu- is said f- (飞机 as 灰机), -n and -ng merge
 * after e and i, and the retroflexes zh ch sh are flattened to z c s; the
 * weights put those first. The characters are the common surname and
 * given-name characters of names.c plus the ones they are mistaken for,
 * grouped by toneless pinyin (ü as v); each character has one reading. */
#include <string.h>

#include "names.h"

typedef struct py_group {
    const char *py;
    const char *chars; /* 3-byte UTF-8 characters */
} py_group_t;

static const py_group_t PINYIN[] = {
    {"bin", "斌彬"},    {"bing", "兵冰"},      {"bo", "波博"},
    {"cai", "蔡"},      {"cao", "曹"},         {"cen", "岑"},
    {"chai", "柴"},     {"chan", "婵"},        {"chang", "长昌"},
    {"chao", "超"},     {"chen", "陈晨辰宸"},  {"cheng", "成诚程"},
    {"chi", "驰池"},    {"chun", "春"},        {"ci", "慈"},
    {"cui", "翠"},      {"dai", "戴"},         {"dan", "丹"},
    {"de", "德"},       {"deng", "邓"},        {"ding", "丁"},
    {"dong", "东"},     {"du", "杜"},          {"duan", "段"},
    {"e", "娥"},        {"fa", "发"},          {"fan", "范帆"},
    {"fang", "方芳"},   {"fei", "飞菲"},       {"fen", "芬"},
    {"feng", "凤峰丰"}, {"fu", "福富傅"},      {"gang", "刚"},
    {"ge", "葛"},       {"gui", "桂贵"},       {"guang", "光"},
    {"guo", "国郭"},    {"hai", "海"},         {"han", "涵韩"},
    {"hang", "航杭"},   {"hao", "浩皓"},       {"he", "贺何荷"},
    {"heng", "恒"},     {"hong", "红宏洪"},    {"hou", "侯"},
    {"hu", "胡虎"},     {"hua", "华花"},       {"huan", "欢"},
    {"huang", "黄"},    {"hui", "辉慧惠"},     {"jia", "佳嘉"},
    {"jian", "建健"},   {"jiang", "蒋姜江"},   {"jie", "杰洁"},
    {"jin", "金锦"},    {"jing", "静晶京"},    {"ju", "菊"},
    {"juan", "娟"},     {"jun", "军俊"},       {"kai", "凯"},
    {"kang", "康"},     {"ke", "可"},          {"kuang", "匡旷"},
    {"kun", "坤"},      {"lan", "兰"},         {"lang", "朗"},
    {"lei", "雷磊"},    {"li", "李丽莉黎"},    {"lian", "莲"},
    {"liang", "梁亮"},  {"liao", "廖"},        {"lie", "烈"},
    {"lin", "林琳"},    {"ling", "玲灵凌"},    {"liu", "刘"},
    {"long", "龙"},     {"lu", "卢陆露璐"},    {"luo", "罗"},
    {"lv", "吕"},       {"ma", "马"},          {"mao", "毛"},
    {"mei", "梅"},      {"meng", "孟梦"},      {"min", "民敏"},
    {"ming", "明铭"},   {"na", "娜"},          {"nan", "南楠"},
    {"ni", "倪妮"},     {"nie", "聂"},         {"ning", "宁凝"},
    {"niu", "牛"},      {"nuo", "诺"},         {"ou", "欧"},
    {"pan", "潘"},      {"pang", "庞"},        {"peng", "彭鹏"},
    {"pi", "皮"},       {"pin", "品"},         {"ping", "平萍"},
    {"qi", "琪"},       {"qian", "倩"},        {"qiang", "强"},
    {"qin", "琴勤"},    {"qing", "青清庆晴"},  {"qiu", "邱"},
    {"ran", "然"},      {"ren", "任"},         {"rong", "荣蓉"},
    {"ru", "如"},       {"rui", "睿瑞"},       {"ruo", "若"},
    {"shan", "山"},     {"shang", "尚"},       {"shao", "邵"},
    {"she", "佘"},      {"shen", "沈"},        {"sheng", "生胜"},
    {"shi", "石诗"},    {"shu", "淑舒"},       {"shun", "顺"},
    {"si", "思司"},     {"song", "宋松"},      {"su", "苏素粟"},
    {"sun", "孙"},      {"tan", "谭"},         {"tang", "唐汤"},
    {"tao", "涛桃"},    {"tian", "田天"},      {"ting", "婷"},
    {"tong", "童彤"},   {"wan", "婉"},         {"wang", "王汪"},
    {"wei", "伟魏"},    {"wen", "文雯"},       {"weng", "翁"},
    {"wu", "吴伍武"},   {"xi", "熙"},          {"xia", "夏霞"},
    {"xian", "贤"},     {"xiang", "向祥香翔"}, {"xiao", "肖"},
    {"xie", "谢"},      {"xin", "新欣鑫馨"},   {"xing", "星兴"},
    {"xiong", "熊"},    {"xiu", "秀"},         {"xu", "许"},
    {"xuan", "轩萱"},   {"xue", "雪"},         {"yan", "颜晏严艳燕妍"},
    {"yang", "杨阳洋"}, {"yao", "姚"},         {"yi", "易一奕怡依"},
    {"yin", "尹银"},    {"ying", "英颖莹"},    {"yong", "永勇"},
    {"you", "游"},      {"yu", "玉宇雨语"},    {"yuan", "袁"},
    {"yue", "悦"},      {"yun", "云"},         {"zang", "臧"},
    {"ze", "泽"},       {"zeng", "曾"},        {"zhan", "展"},
    {"zhang", "张章"},  {"zhao", "赵"},        {"zhe", "哲"},
    {"zhen", "珍"},     {"zheng", "郑正"},     {"zhi", "志智"},
    {"zhong", "忠钟"},  {"zhou", "周"},        {"zhu", "朱"},
    {"zhuo", "卓"},     {"zi", "子梓"},        {"zong", "宗"},
    {"zou", "邹"},      {"zu", "祖"},          {"zuo", "左"},
};
#define N_PINYIN (sizeof(PINYIN) / sizeof(PINYIN[0]))

enum { PART_INITIAL, PART_FINAL, PART_SYLLABLE };

typedef struct merge {
    const char *name; /* as gh_gen_fuzzy_merge() reports it */
    const char *a, *b;
    uint8_t part; /* what a and b are: initials, finals, whole syllables */
    uint16_t weight;
} merge_t;

/* Each works both ways. f/h is also f <-> hu before a vowel (fei/hui,
 * fang/huang), the Xiang form of it, spelled out syllable by syllable. */
static const merge_t MERGES[] = {
    {"n/l", "n", "l", PART_INITIAL, 4},
    {"f/h", "f", "h", PART_INITIAL, 3},
    {"f/h", "fa", "hua", PART_SYLLABLE, 3},
    {"f/h", "fan", "huan", PART_SYLLABLE, 3},
    {"f/h", "fang", "huang", PART_SYLLABLE, 3},
    {"f/h", "fei", "hui", PART_SYLLABLE, 3},
    {"f/h", "fen", "hun", PART_SYLLABLE, 3},
    {"en/eng", "en", "eng", PART_FINAL, 3},
    {"in/ing", "in", "ing", PART_FINAL, 3},
    {"z/zh", "z", "zh", PART_INITIAL, 2},
    {"c/ch", "c", "ch", PART_INITIAL, 2},
    {"s/sh", "s", "sh", PART_INITIAL, 2},
    {"r/l", "r", "l", PART_INITIAL, 2},
    {"an/ang", "an", "ang", PART_FINAL, 1},
    {"ian/iang", "ian", "iang", PART_FINAL, 1},
};
#define N_MERGES (sizeof(MERGES) / sizeof(MERGES[0]))

/* Two-letter initials first: "zh" before "z". */
static const char *const INITIALS[] = {
    "zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g",
    "k",  "h",  "j",  "q", "x", "r", "z", "c", "s", "y", "w"};

static size_t initial_len(const char *py) {
    for (size_t i = 0; i < sizeof(INITIALS) / sizeof(INITIALS[0]); i++) {
        size_t n = strlen(INITIALS[i]);
        if (!strncmp(py, INITIALS[i], n)) return n;
    }
    return 0;
}

/* The syllable `py` turned by merge m from `from` to `to`, into out (16
 * bytes); 0 if the merge does not apply. */
static int apply(const merge_t *m, int reverse, const char *py, char *out) {
    const char *from = reverse ? m->b : m->a, *to = reverse ? m->a : m->b;
    size_t il = initial_len(py), n = strlen(py);
    if (n > 8) return 0;
    switch (m->part) {
    case PART_INITIAL:
        if (il != strlen(from) || strncmp(py, from, il)) return 0;
        strcpy(out, to);
        strcat(out, py + il);
        return 1;
    case PART_FINAL:
        if (strcmp(py + il, from)) return 0;
        memcpy(out, py, il);
        strcpy(out + il, to);
        return 1;
    default:
        if (strcmp(py, from)) return 0;
        strcpy(out, to);
        return 1;
    }
}

static int group_of_py(const char *py) {
    for (size_t i = 0; i < N_PINYIN; i++)
        if (!strcmp(PINYIN[i].py, py)) return (int)i;
    return -1;
}

static int group_of_char(const char *ch) {
    for (size_t i = 0; i < N_PINYIN; i++)
        for (const char *c = PINYIN[i].chars; *c; c += 3)
            if (!memcmp(c, ch, 3)) return (int)i;
    return -1;
}

const char *gh_gen_pinyin(const char *ch) {
    if (!ch || strlen(ch) < 3) return NULL;
    int g = group_of_char(ch);
    return g < 0 ? NULL : PINYIN[g].py;
}

const char *gh_gen_fuzzy_merge(const char *a, const char *b) {
    char v[16];
    for (size_t m = 0; m < N_MERGES; m++)
        for (int rev = 0; rev < 2; rev++)
            if (apply(&MERGES[m], rev, a, v) && !strcmp(v, b))
                return MERGES[m].name;
    return NULL;
}

size_t gh_gen_pinyin_count(void) {
    return N_PINYIN;
}

const char *gh_gen_pinyin_group(size_t i, const char **chars) {
    if (i >= N_PINYIN) return NULL;
    if (chars) *chars = PINYIN[i].chars;
    return PINYIN[i].py;
}

#define MAX_CAND 64

int gh_gen_fuzzy_pinyin(gh_gen_rng_t *r, const char *in, char *out,
                        size_t size) {
    size_t n = strlen(in), pos[MAX_CAND];
    int to[MAX_CAND];
    uint16_t w[MAX_CAND];
    size_t k = 0;
    if (n + 1 > size) {
        if (size) out[0] = '\0';
        return 0;
    }
    memcpy(out, in, n + 1);
    for (size_t i = 0; i + 3 <= n;) {
        unsigned char c = (unsigned char)in[i];
        size_t cw = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        int g = cw == 3 ? group_of_char(in + i) : -1;
        for (size_t m = 0; g >= 0 && m < N_MERGES; m++)
            for (int rev = 0; rev < 2 && k < MAX_CAND; rev++) {
                char v[16];
                if (!apply(&MERGES[m], rev, PINYIN[g].py, v)) continue;
                int t = group_of_py(v);
                if (t < 0) continue;
                pos[k] = i;
                to[k] = t;
                w[k++] = MERGES[m].weight;
            }
        i += cw;
    }
    if (!k) return 0;
    size_t j = gh_gen_rng_pick(r, w, k);
    const char *chars = PINYIN[to[j]].chars;
    uint32_t nc = (uint32_t)(strlen(chars) / 3);
    memcpy(out + pos[j], chars + 3 * gh_gen_rng_below(r, nc), 3);
    return 1;
}
