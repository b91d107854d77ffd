/* Every target has a correctly rounded square-root instruction; the builtin maps onto it. */
#include <math.h>

double sqrt(double x)
{
	return __builtin_sqrt(x);
}
