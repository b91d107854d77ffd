/* xisa programs are linked whole and never loaded dynamically; these definitions only let the
 * dynamic-linker sources compile. */

#define LDSO_ARCH "xisa"

#define REL_SYMBOLIC 1
#define REL_PLT 2
#define REL_RELATIVE 3
#define REL_COPY 4
#define REL_DTPMOD 5
#define REL_DTPOFF 6
#define REL_TPOFF 7

#define CRTJMP(pc, sp) __builtin_trap()
