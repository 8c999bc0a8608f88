// A runtime file that reaches into the front end (for layers.test).
#include "gptc/Runtime/Plan.h"
#include "gptc/Support/Error.h"
#include "gptc/Frontend/Sema.h"
