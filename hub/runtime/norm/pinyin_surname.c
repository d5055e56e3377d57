/*
 * Surname readings of polyphonic characters. ICU reads a character by its
 * commonest word (曾 céng as in 曾经, 单 dān as in 简单), but as a surname
 * it is read otherwise (曾 zēng, 单 shàn). The key of a name would still be
 * consistent without this table; it is here so that a clerk's homophone of
 * the surname (增 for 曾) gives the same key, and so that keys read as a
 * person would say them.
 *
 * Sorted by first, then second code point (0 for a single character).
 */
#include <string.h>

#include "norm_int.h"

typedef struct surname {
    uint32_t c1, c2;
    const char *s1, *s2;
} surname_t;

static const surname_t SURNAMES[] = {
    {0x4E07, 0x4FDF, "mo", "qi"},     /* 万俟 */
    {0x4E50, 0, "yue", ""},           /* 乐 */
    {0x4E5C, 0, "nie", ""},           /* 乜 */
    {0x4EC7, 0, "qiu", ""},           /* 仇 */
    {0x4F74, 0, "nai", ""},           /* 佴 */
    {0x533A, 0, "ou", ""},            /* 区 */
    {0x5355, 0, "shan", ""},          /* 单 */
    {0x5355, 0x4E8E, "chan", "yu"},   /* 单于 */
    {0x53E5, 0, "gou", ""},           /* 句 */
    {0x53EC, 0, "shao", ""},          /* 召 */
    {0x5458, 0, "yun", ""},           /* 员 */
    {0x5B93, 0, "fu", ""},            /* 宓 */
    {0x5C09, 0x8FDF, "yu", "chi"},    /* 尉迟 */
    {0x6298, 0, "she", ""},           /* 折 */
    {0x66FE, 0, "zeng", ""},          /* 曾 */
    {0x6734, 0, "piao", ""},          /* 朴 */
    {0x67E5, 0, "zha", ""},           /* 查 */
    {0x6D17, 0, "xian", ""},          /* 洗 */
    {0x6FB9, 0x53F0, "tan", "tai"},   /* 澹台 */
    {0x7085, 0, "gui", ""},           /* 炅 */
    {0x76D6, 0, "ge", ""},            /* 盖 */
    {0x796D, 0, "zhai", ""},          /* 祭 */
    {0x79CD, 0, "chong", ""},         /* 种 */
    {0x79D8, 0, "bi", ""},            /* 秘 */
    {0x7C98, 0, "nian", ""},          /* 粘 */
    {0x7E41, 0, "po", ""},            /* 繁 */
    {0x7F2A, 0, "miao", ""},          /* 缪 */
    {0x7FDF, 0, "zhai", ""},          /* 翟 */
    {0x80FD, 0, "nai", ""},           /* 能 */
    {0x8584, 0, "bo", ""},            /* 薄 */
    {0x85CF, 0, "zang", ""},          /* 藏 */
    {0x8983, 0, "qin", ""},           /* 覃 */
    {0x89E3, 0, "xie", ""},           /* 解 */
    {0x90C7, 0, "xun", ""},           /* 郇 */
    {0x90FD, 0, "du", ""},            /* 都 */
    {0x91CD, 0, "chong", ""},         /* 重 */
    {0x957F, 0, "chang", ""},         /* 长 */
    {0x957F, 0x5B59, "zhang", "sun"}, /* 长孙 */
    {0x961A, 0, "kan", ""},           /* 阚 */
    {0x9697, 0, "wei", ""},           /* 隗 */
};
#define N_SURNAMES (sizeof(SURNAMES) / sizeof(SURNAMES[0]))

int gh__pinyin_surname(const uint32_t *cp, size_t n, char syl[2][8]) {
    if (!n || cp[0] < SURNAMES[0].c1 || cp[0] > SURNAMES[N_SURNAMES - 1].c1)
        return 0;
    const surname_t *single = NULL;
    for (size_t i = 0; i < N_SURNAMES && SURNAMES[i].c1 <= cp[0]; i++) {
        const surname_t *s = &SURNAMES[i];
        if (s->c1 != cp[0]) continue;
        if (!s->c2) {
            single = s;
        } else if (n > 1 && cp[1] == s->c2) {
            strcpy(syl[0], s->s1);
            strcpy(syl[1], s->s2);
            return 2;
        }
    }
    if (!single) return 0;
    strcpy(syl[0], single->s1);
    syl[1][0] = '\0';
    return 1;
}
