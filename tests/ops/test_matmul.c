/* matmul tests: being written. */
#include "../common.h"
