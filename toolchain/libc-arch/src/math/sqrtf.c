/* Every target has a correctly rounded square-root instruction; the builtin maps onto it. */
#include <math.h>

float sqrtf(float x)
{
	return __builtin_sqrtf(x);
}
