// xisa-env: TZ=EST5EDT,M3.2.0,M11.1.0
// <time.h> on fixed timestamps only (never the current time): gmtime and
// localtime (with the zone given as a POSIX TZ rule string, so no zoneinfo
// files are needed), mktime normalisation and DST, strftime with most
// conversions, difftime, dates before 1970 and after 2038, and our own
// days-from-civil calculation cross-checked against gmtime.
#define _POSIX_C_SOURCE 200809L   /* setenv, tzset */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 for a proleptic Gregorian date. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void show(const char *label, const struct tm *tm)
{
    char buf[160];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a yday=%j wday=%w %Z %z", tm);
    printf("%-10s %s isdst=%d\n", label, buf, tm->tm_isdst);
}

int main(void)
{
    const long long stamps[] = { 0, 1, 86399, 951782400 /* 2000-02-29 */, 1000000000, 1234567890,
                                 1710054000 /* DST starts */, 1730613600 /* DST ends */,
                                 2147483647, 2147483648LL, 4102444800LL /* 2100-01-01 */,
                                 -1, -86400, -2208988800LL /* 1900-01-01 */, 253402300799LL };
    const int n = (int)(sizeof stamps / sizeof stamps[0]);
    int mismatches = 0;
    for (int i = 0; i < n; i++) {
        time_t t = (time_t)stamps[i];
        struct tm g, l;
        gmtime_r(&t, &g);
        localtime_r(&t, &l);
        printf("t=%lld\n", stamps[i]);
        show("  gmtime", &g);
        show("  local", &l);
        long long days = days_from_civil(g.tm_year + 1900LL, (unsigned)g.tm_mon + 1, (unsigned)g.tm_mday);
        long long back = days * 86400 + g.tm_hour * 3600 + g.tm_min * 60 + g.tm_sec;
        if (back != stamps[i]) mismatches++;
        /* mktime inverts localtime. */
        struct tm copy = l;
        if ((long long)mktime(&copy) != stamps[i]) mismatches++;
    }
    printf("round-trip mismatches: %d\n", mismatches);

    /* strftime conversions on one fixed instant (a Thursday in week 1 edge cases). */
    const char *formats[] = { "%a %A %b %B", "%c", "%x %X", "%d %e %H %I %M %S %p", "%j %U %W %V %G %g %u %w",
                              "%y %Y %C %m", "%D | %F | %T | %R | %r", "%Z %z %%", "%h %n%t|", "" };
    time_t fixed = 1104537600;   /* 2005-01-01 00:00:00 UTC: ISO week 53 of 2004 */
    struct tm tm;
    gmtime_r(&fixed, &tm);
    for (int i = 0; i < 10; i++) {
        char buf[128];
        size_t len = strftime(buf, sizeof buf, formats[i], &tm);
        printf("strftime(\"%s\") -> [%s] (%zu)\n", formats[i], buf, len);
    }
    char tiny[8];
    printf("strftime into a too-small buffer returns %zu\n", strftime(tiny, sizeof tiny, "%A %B", &tm));

    /* mktime normalises out-of-range fields and fills in wday/yday. */
    struct tm odd;
    memset(&odd, 0, sizeof odd);
    odd.tm_year = 2023 - 1900;
    odd.tm_mon = 13;       /* February of the next year */
    odd.tm_mday = 30;      /* ... 30th, i.e. March 1st 2024 (a leap year) */
    /* hour 25 and minute -30 then carry into March 2nd, 00:30 */
    odd.tm_hour = 25;
    odd.tm_min = -30;
    odd.tm_isdst = -1;
    time_t t = mktime(&odd);
    show("normalised", &odd);
    printf("  as time_t %lld\n", (long long)t);
    odd.tm_mday -= 60;
    odd.tm_isdst = -1;
    t = mktime(&odd);
    show("minus 60d", &odd);

    /* A summer and a winter date in the same zone, and difftime across DST. */
    struct tm summer = { .tm_year = 124, .tm_mon = 6, .tm_mday = 4, .tm_hour = 12, .tm_isdst = -1 };
    struct tm winter = { .tm_year = 124, .tm_mon = 11, .tm_mday = 25, .tm_hour = 12, .tm_isdst = -1 };
    time_t ts = mktime(&summer), tw = mktime(&winter);
    show("summer", &summer);
    show("winter", &winter);
    printf("difftime(winter, summer) = %.1f hours\n", difftime(tw, ts) / 3600);

    /* Switch zones at run time. */
    const char *zones[] = { "UTC0", "JST-9", "NZST-12NZDT,M9.5.0,M4.1.0/3", "<+0330>-3:30", "EST5EDT,M3.2.0,M11.1.0" };
    time_t probe = 1700000000;
    for (int i = 0; i < 5; i++) {
        setenv("TZ", zones[i], 1);
        tzset();
        struct tm lt;
        localtime_r(&probe, &lt);
        char buf[96];
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z %z", &lt);
        printf("TZ=%-28s %s\n", zones[i], buf);
    }

    /* Day-of-week of some dates via our own formula vs gmtime. */
    int ok = 0;
    for (long long y = 1601; y <= 2400; y += 7)
        for (unsigned m = 1; m <= 12; m += 5) {
            long long days = days_from_civil(y, m, 13);
            time_t tt = (time_t)(days * 86400);
            struct tm gt;
            gmtime_r(&tt, &gt);
            int wd = (int)((days % 7 + 11) % 7);   /* 1970-01-01 was a Thursday (4) */
            ok += gt.tm_wday == wd && gt.tm_mday == 13 && gt.tm_mon + 1 == (int)m && gt.tm_year + 1900 == y;
        }
    printf("weekday checks passed: %d of %d\n", ok, ((2400 - 1601) / 7 + 1) * 3);
    return 0;
}
