/*
 * TEST ONLY, never shipped: a stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks.
 * Rust's standard library (1.78+) imports ProcessPrng from it, so without this the agent dies
 * under Wine before main. ProcessPrng fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), which Wine implements. Built by build.sh next to the .exe under test.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
