/*
 * TEST ONLY, never shipped: a stand-in for pdh.dll under Wine 8.0, whose PdhEnumObjectsW is an
 * unimplemented stub that aborts the process. sysinfo calls it when its CPU-load counters
 * could not be opened (always, under Wine), so without this the hardware check kills the agent
 * under Wine. Every function here fails cleanly instead (PDH_CSTATUS_NO_OBJECT), so the agent
 * reports no CPU load under Wine and everything else runs. Real Windows has the real pdh.dll.
 */
#include <windows.h>

#define PDH_CSTATUS_NO_OBJECT ((LONG)0xC0000BB8L)

LONG WINAPI PdhAddEnglishCounterW(void *a, void *b, void *c, void *d) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhCloseQuery(void *a) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhCollectQueryData(void *a) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhEnumObjectsW(void *a, void *b, void *c, void *d, DWORD e, BOOL f) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhGetFormattedCounterArrayW(void *a, DWORD b, void *c, void *d, void *e) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhGetFormattedCounterValue(void *a, DWORD b, void *c, void *d) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhOpenQueryW(void *a, void *b, void *c) { return PDH_CSTATUS_NO_OBJECT; }
LONG WINAPI PdhRemoveCounter(void *a) { return PDH_CSTATUS_NO_OBJECT; }
