/*
 * bcryptprimitives.dll for wine 8.0, which has none. Go's runtime (1.22 and
 * later) loads it from system32 at start and calls ProcessPrng for its random
 * numbers; without it every Go program dies before main under wine 8.0.
 * Windows 10 and 11 ship the real one. The test scripts copy this into the
 * throwaway wine prefix only: it never goes into the .msi.
 *
 * ProcessPrng fills the buffer from RtlGenRandom (advapi32's SystemFunction036),
 * which wine implements from the host's /dev/urandom.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
