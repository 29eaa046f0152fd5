#ifndef STATEJOURNAL_CSQLITE_SHIM_H
#define STATEJOURNAL_CSQLITE_SHIM_H
// libsqlite3, for the bench's SQLite peer (Tools/bench). Needs libsqlite3-dev.
#include <sqlite3.h>
#endif
