// A kernel template that reaches into the runtime beyond the RNG.
#include "gptc/Runtime/Philox.h"
#include "gptc/Runtime/Executor.h"
