// A runtime file that reaches into the front end (for layers.test).
#include "gptc/Frontend/Sema.h"
#include "gptc/Runtime/Plan.h"
#include "gptc/Support/Error.h"
