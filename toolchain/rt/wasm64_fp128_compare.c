/* binary128 comparisons for wasm64.
 *
 * LLVM's wasm back end calls __eqtf2 and friends expecting an `int` result, while
 * compiler-rt's wasm64 build returns `long` (its LP64 rule), so wasm-ld would link a trapping
 * signature-mismatch stub. These definitions have the signature the back end uses and are
 * linked ahead of compiler-rt. Semantics follow the libgcc soft-float ABI: a result < 0, == 0
 * or > 0 orders the operands; an unordered pair (a NaN) yields `unordered`. */

typedef unsigned __int128 u128;
typedef __int128 s128;

static u128 bits_of(long double x)
{
	u128 u;
	__builtin_memcpy(&u, &x, sizeof u);
	return u;
}

static const u128 magnitude_mask = ((u128)1 << 127) - 1;
static const u128 infinity_bits = (u128)0x7fff << 112;

static int is_nan(u128 a)
{
	return (a & magnitude_mask) > infinity_bits;
}

static int compare(long double x, long double y, int unordered)
{
	u128 a = bits_of(x), b = bits_of(y);
	if (is_nan(a) || is_nan(b))
		return unordered;
	if (((a | b) & magnitude_mask) == 0)
		return 0; /* +0 == -0 */
	s128 sa = (s128)a, sb = (s128)b;
	if ((sa & sb) >= 0) /* not both negative: integer order is float order */
		return sa < sb ? -1 : sa != sb;
	return sa > sb ? -1 : sa != sb; /* both negative: reversed */
}

int __letf2(long double a, long double b) { return compare(a, b, 1); }
int __lttf2(long double a, long double b) { return compare(a, b, 1); }
int __eqtf2(long double a, long double b) { return compare(a, b, 1); }
int __netf2(long double a, long double b) { return compare(a, b, 1); }
int __cmptf2(long double a, long double b) { return compare(a, b, 1); }
int __getf2(long double a, long double b) { return compare(a, b, -1); }
int __gttf2(long double a, long double b) { return compare(a, b, -1); }
int __unordtf2(long double a, long double b) { return is_nan(bits_of(a)) || is_nan(bits_of(b)); }
