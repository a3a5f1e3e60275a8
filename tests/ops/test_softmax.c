/* softmax tests: being written. */
#include "../common.h"
