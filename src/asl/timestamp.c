/* timestamp — the RFC 3339 timestamps of Choice Timestamp* rules, IsTimestamp
 * and Wait's Timestamp/TimestampPath, parsed the way AWS accepts them, and
 * formatted the way AWS prints them (millisecond precision, 'Z').
 * Parsing keeps seconds and nanoseconds apart so that years far from 1970
 * (which do not fit int64 nanoseconds) still compare exactly. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "asl/asl.h"

/* Private to the asl module (choice.c uses it). TODO(#choice-ts): move the
 * prototype into a private header once the module has one. */
int aslp_timestamp_parse_sn(const char *s, size_t len, int64_t *sec, int32_t *nsec);

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date: count in 400-year
 * eras starting in March so the leap day falls at the end of a "year". */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The accepted shape, checked character by character:
 *   YYYY-MM-DD 'T' hh:mm:ss [ '.' digits+ ] ( 'Z' | ('+'|'-') hh:mm )
 * Uppercase T and Z only (the ASL spec says MUST); any number of fraction
 * digits, of which the first nine count; real calendar dates only; no leap
 * second; offsets up to 18:00 as java.time allows. */
int aslp_timestamp_parse_sn(const char *s, size_t len, int64_t *sec, int32_t *nsec)
{
    int y, mo, d, h, mi, se;
    if (len < 20)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return -1;

    size_t i = 19;
    int32_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        int kept = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (kept < 9) {
                frac = frac * 10 + (s[i] - '0');
                kept++;
            }
            i++;
        }
        if (i == start)
            return -1;
        for (; kept < 9; kept++)
            frac *= 10;
    }

    int off = 0; /* seconds east of UTC */
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om))
            return -1;
        if (om > 59 || oh * 60 + om > 18 * 60)
            return -1;
        off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;

    *sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    *nsec = frac;
    return 0;
}

int asl_timestamp_parse(const char *s, int64_t *ns)
{
    int64_t sec;
    int32_t nsec;
    if (!s || aslp_timestamp_parse_sn(s, strlen(s), &sec, &nsec))
        return -1;
    /* Valid but outside int64 nanoseconds (before 1677 or after 2262):
     * saturate, which keeps ordering for Wait ("long ago" / "far future"). */
    if (sec > INT64_MAX / 1000000000 - 1)
        *ns = INT64_MAX;
    else if (sec < INT64_MIN / 1000000000 + 1)
        *ns = INT64_MIN;
    else
        *ns = sec * 1000000000 + nsec;
    return 0;
}

void asl_timestamp_format(int64_t ns, char *buf, size_t cap)
{
    if (!buf || !cap)
        return;
    /* Floor division so instants before 1970 print the right second. */
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec--;
    }
    int64_t days = sec / 86400, sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), (int)(rem / 1000000));
}
