#ifndef STATEJOURNAL_CZSTD_SHIM_H
#define STATEJOURNAL_CZSTD_SHIM_H
#include <zstd.h>
#endif
