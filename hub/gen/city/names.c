#include "names.h"

#include <stdio.h>
#include <string.h>

/* ---- surnames --------------------------------------------------------------
 */

typedef struct surname {
    const char *s;
    uint16_t w; /* relative frequency */
} surname_t;

/* Hunan's most common surnames: 刘 and 李 lead there, then 王 张 陈; 曾 彭
 * 谢 邓 罗 肖 唐 谭 are far more common than nationally. */
static const surname_t SURNAMES[] = {
    {"刘", 700}, {"李", 650}, {"王", 560}, {"张", 500}, {"陈", 500},
    {"杨", 350}, {"黄", 300}, {"周", 250}, {"曾", 240}, {"吴", 230},
    {"彭", 220}, {"邓", 220}, {"罗", 210}, {"赵", 200}, {"谢", 200},
    {"肖", 190}, {"唐", 180}, {"胡", 160}, {"贺", 130}, {"何", 130},
    {"朱", 130}, {"谭", 120}, {"邹", 120}, {"蒋", 120}, {"龙", 100},
    {"廖", 100}, {"梁", 90},  {"袁", 90},  {"孙", 80},  {"郭", 80},
    {"易", 80},  {"颜", 70},  {"戴", 70},  {"郑", 70},  {"段", 60},
    {"石", 60},  {"许", 60},  {"汤", 60},  {"向", 60},  {"宋", 60},
    {"文", 60},  {"雷", 60},  {"马", 60},  {"邱", 50},  {"姚", 50},
    {"夏", 50},  {"方", 50},  {"钟", 50},  {"卢", 50},  {"林", 50},
    {"田", 50},  {"伍", 50},  {"尹", 50},  {"曹", 50},  {"熊", 50},
    {"匡", 40},  {"阳", 40},  {"聂", 40},  {"成", 40},  {"丁", 40},
    {"范", 40},  {"魏", 40},  {"潘", 40},  {"傅", 40},  {"汪", 40},
    {"黎", 40},  {"蔡", 40},  {"苏", 40},  {"章", 30},  {"葛", 30},
    {"晏", 30},  {"左", 30},  {"康", 30},  {"陆", 30},  {"严", 30},
    {"姜", 30},  {"童", 30},  {"毛", 30},  {"侯", 30},  {"邵", 30},
    {"杜", 30},  {"任", 30},  {"吕", 30},  {"游", 30},  {"欧阳", 30},
    {"粟", 20},  {"旷", 20},  {"皮", 20},  {"佘", 15},  {"司马", 5},
};
#define N_SURNAMES (sizeof(SURNAMES) / sizeof(SURNAMES[0]))

size_t gh_gen_surname_count(void) {
    return N_SURNAMES;
}
const char *gh_gen_surname(size_t i) {
    return i < N_SURNAMES ? SURNAMES[i].s : "";
}

int gh_gen_surname_draw(gh_gen_rng_t *r) {
    static uint16_t w[N_SURNAMES];
    static int init;
    if (!init) { /* idempotent: racing initialisers write the same values */
        for (size_t i = 0; i < N_SURNAMES; i++)
            w[i] = SURNAMES[i].w;
        init = 1;
    }
    return (int)gh_gen_rng_pick(r, w, N_SURNAMES);
}

/* ---- given names
 * -------------------------------------------------------------- */

/* Characters by cohort; repeats weight the common ones. */
static const char *const POOLS[GH_GEN_POOL_MINORITY] = {
    "国建德明华志强福生春桂长青金庆忠民军荣富贵林山文武海清永祥云松德国",
    "秀兰英珍桂芳玉梅凤华春莲翠娥淑琴菊香云霞荷桃花娟素秀英兰",
    "伟军勇刚平斌辉强华明建新峰波涛兵亮东红光宏志忠文杰超伟军",
    "丽红芳艳敏静燕玲霞英娟萍琴华梅兰慧秀莉琳云凤娥芬丽红",
    "伟磊鹏浩杰涛斌超飞鑫宇帆俊凯健亮龙阳翔晨峰洋林波坤军磊",
    "娜丽婷静敏芳倩琳颖洁雪丹慧莹霞燕玲琴晶佳蓉欣露璐艳萍娜",
    "子浩宇轩然博文梓睿泽涵航俊熙晨诚铭瑞天一奕辰皓宸锦浩",
    "欣怡梓涵雨诗可馨佳悦萱琪思彤婉晴若依语然嘉妍菲琳欣",
};

typedef struct uyghur {
    const char *s;
    uint8_t sex;
} uyghur_t;

static const uyghur_t UYGHUR[] = {
    {"买买提·艾力", 1},     {"阿不都·热合曼", 1},   {"艾尔肯·吐尔逊", 1},
    {"努尔艾力·吾斯曼", 1}, {"艾合买提·依明", 1},   {"吐尔洪·阿不拉", 1},
    {"古丽·买买提", 2},     {"阿依古丽·艾则孜", 2}, {"热依拉·阿不力克木", 2},
    {"迪丽努尔·阿不都", 2}, {"米热古丽·吐尔洪", 2}, {"帕提古丽·沙吾提", 2},
};
#define N_UYGHUR (sizeof(UYGHUR) / sizeof(UYGHUR[0]))

size_t gh_gen_pool_size(int pool) {
    if (pool == GH_GEN_POOL_MINORITY) return N_UYGHUR;
    if (pool < 0 || pool >= GH_GEN_POOL_MINORITY) return 0;
    return strlen(POOLS[pool]) / 3;
}

void gh_gen_name_draw(gh_gen_rng_t *r, int sex, int birth_year, int surname,
                      int uyghur, gh_gen_name_t *out) {
    if (uyghur) {
        /* Draw among the names of the right sex. */
        uint32_t k = gh_gen_rng_below(r, N_UYGHUR / 2);
        for (size_t i = 0; i < N_UYGHUR; i++)
            if (UYGHUR[i].sex == sex && k-- == 0) {
                out->pool = GH_GEN_POOL_MINORITY;
                out->sur = 0;
                out->g1 = (uint8_t)i;
                out->g2 = GH_GEN_NO_CHAR;
                return;
            }
    }
    int cohort = birth_year < 1960   ? 0
                 : birth_year < 1980 ? 1
                 : birth_year < 2000 ? 2
                                     : 3;
    int pool = cohort * 2 + (sex == 2);
    uint32_t n = (uint32_t)gh_gen_pool_size(pool);
    out->pool = (uint8_t)pool;
    out->sur = (uint8_t)(surname >= 0 ? surname : gh_gen_surname_draw(r));
    out->g1 = (uint8_t)gh_gen_rng_below(r, n);
    /* Single-character given names are common among the old, rarer since. */
    double single = cohort == 0   ? 0.35
                    : cohort == 1 ? 0.45
                    : cohort == 2 ? 0.3
                                  : 0.15;
    if (gh_gen_rng_chance(r, single)) {
        out->g2 = GH_GEN_NO_CHAR;
    } else {
        out->g2 = (uint8_t)gh_gen_rng_below(r, n);
        /* 伟伟 is a nickname, not a registered name (mostly). */
        if (out->g2 == out->g1) out->g2 = (uint8_t)((out->g1 + 1) % n);
    }
}

void gh_gen_name_format(const gh_gen_name_t *n, char *out, size_t size) {
    if (!size) return;
    if (n->pool == GH_GEN_POOL_MINORITY) {
        snprintf(out, size, "%s", UYGHUR[n->g1 % N_UYGHUR].s);
        return;
    }
    const char *pool = POOLS[n->pool % GH_GEN_POOL_MINORITY];
    const char *s = SURNAMES[n->sur % N_SURNAMES].s;
    size_t sl = strlen(s), len = 0;
    if (sl + 7 > size) {
        out[0] = '\0';
        return;
    }
    memcpy(out, s, sl);
    len = sl;
    memcpy(out + len, pool + 3 * n->g1, 3);
    len += 3;
    if (n->g2 != GH_GEN_NO_CHAR) {
        memcpy(out + len, pool + 3 * n->g2, 3);
        len += 3;
    }
    out[len] = '\0';
}

int gh_gen_name_drop_char(gh_gen_name_t *n, uint32_t pick) {
    if (n->pool >= GH_GEN_POOL_MINORITY || n->g2 == GH_GEN_NO_CHAR) return 0;
    if (pick & 1) n->g1 = n->g2;
    n->g2 = GH_GEN_NO_CHAR;
    return 1;
}

int gh_gen_name_add_char(gh_gen_name_t *n, uint32_t pick) {
    if (n->pool >= GH_GEN_POOL_MINORITY || n->g2 != GH_GEN_NO_CHAR) return 0;
    uint32_t size = (uint32_t)gh_gen_pool_size(n->pool);
    uint8_t c = (uint8_t)((pick & 0xFFFF) % size);
    /* The pools repeat common characters: skip every copy of the one the
     * name has (伟伟 is a nickname, not a mistyped 伟). */
    const char *pool = POOLS[n->pool];
    for (uint32_t i = 0; i < size && !memcmp(pool + 3 * c, pool + 3 * n->g1, 3);
         i++)
        c = (uint8_t)((c + 1) % size);
    if (!memcmp(pool + 3 * c, pool + 3 * n->g1, 3)) return 0;
    if (pick & 0x10000) {
        n->g2 = n->g1;
        n->g1 = c;
    } else {
        n->g2 = c;
    }
    return 1;
}

/* ---- ethnic groups
 * ----------------------------------------------------------- */

/* Loudi: overwhelmingly Han; Tujia, Miao, Yao and Dong from western Hunan. */
static const gh_gen_eth_t ETH[] = {
    {"01", "汉族", "汉", 9590},      {"15", "土家族", "土家", 160},
    {"06", "苗族", "苗", 110},       {"13", "瑶族", "瑶", 60},
    {"12", "侗族", "侗", 50},        {"03", "回族", "回", 20},
    {"05", "维吾尔族", "维吾尔", 0}, {"08", "壮族", "壮", 10},
};
#define N_ETH (sizeof(ETH) / sizeof(ETH[0]))

size_t gh_gen_eth_count(void) {
    return N_ETH;
}
const gh_gen_eth_t *gh_gen_eth(size_t i) {
    return &ETH[i < N_ETH ? i : 0];
}

int gh_gen_eth_draw(gh_gen_rng_t *r) {
    uint16_t w[N_ETH];
    for (size_t i = 0; i < N_ETH; i++)
        w[i] = ETH[i].weight;
    return (int)gh_gen_rng_pick(r, w, N_ETH);
}

/* ---- traditional characters
 * --------------------------------------------------- */

/* simplified, traditional: pairs of 3-byte characters. 王 周 李 have no
 * other traditional form. */
static const char TRAD[] =
    "张張陈陳刘劉黄黃赵趙吴吳郑鄭杨楊罗羅邓鄧谢謝贺賀蒋蔣龙龍颜顏孙孫许許"
    "汤湯聂聶钟鍾卢盧马馬谭譚邹鄒陆陸严嚴苏蘇吕呂欧歐阳陽伟偉丽麗国國华華"
    "红紅军軍东東兰蘭凤鳳云雲刚剛静靜辉輝鹏鵬涛濤飞飛凯凱颖穎洁潔莹瑩艳艷"
    "莲蓮杰傑强強长長庆慶荣榮贵貴轩軒泽澤诚誠铭銘锦錦诗詩悦悅语語娟娟";

int gh_gen_to_traditional(const char *in, char *out, size_t size) {
    size_t n = strlen(in), npairs = (sizeof(TRAD) - 1) / 6;
    int changed = 0;
    if (n + 1 > size) {
        if (size) out[0] = '\0';
        return 0;
    }
    memcpy(out, in, n + 1);
    for (size_t i = 0; i + 3 <= n;) {
        unsigned char c = (unsigned char)out[i];
        size_t w = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (w == 3)
            for (size_t k = 0; k < npairs; k++)
                if (!memcmp(out + i, TRAD + 6 * k, 3)) {
                    if (memcmp(TRAD + 6 * k, TRAD + 6 * k + 3, 3)) changed++;
                    memcpy(out + i, TRAD + 6 * k + 3, 3);
                    break;
                }
        i += w;
    }
    return changed;
}

/* ---- homophones
 * ------------------------------------------------------------------ */

/* Pairs typed for each other (same reading, or merged in Xiang dialect:
 * 陈/程 -n/-ng, 周/邹 zh/z). Each pair works both ways. */
static const char HOMO[] =
    "张章林琳丽莉伟玮静婧敏民芳方军君杰洁娜纳红宏华桦涛韬斌彬文雯婷亭慧惠"
    "明铭刚钢平萍梅玫英瑛燕艳霞侠峰锋勇永欣馨怡宜轩宣涵晗浩皓宇雨梓子嘉佳"
    "琪棋志智建健俊峻杨阳刘留陈程周邹";

int gh_gen_homophone(gh_gen_rng_t *r, const char *in, char *out, size_t size) {
    size_t n = strlen(in), npairs = (sizeof(HOMO) - 1) / 6;
    size_t pos[16], rep[16];
    int k = 0;
    if (n + 1 > size) {
        if (size) out[0] = '\0';
        return 0;
    }
    memcpy(out, in, n + 1);
    for (size_t i = 0; i + 3 <= n && k < 16;) {
        unsigned char c = (unsigned char)in[i];
        size_t w = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (w == 3)
            for (size_t p = 0; p < npairs * 2; p++)
                if (!memcmp(in + i, HOMO + 3 * p, 3)) {
                    pos[k] = i;
                    rep[k++] = p ^ 1; /* the other one of the pair */
                    break;
                }
        i += w;
    }
    if (!k) {
        gh_gen_rng_next(r); /* same number of draws either way */
        return 0;
    }
    uint32_t j = gh_gen_rng_below(r, (uint32_t)k);
    memcpy(out + pos[j], HOMO + 3 * rep[j], 3);
    return 1;
}
