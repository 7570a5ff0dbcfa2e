/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * intel-ipsec-mb managers for the AEAD fast paths (lib/esp, lib/wg).
 *
 * A manager is created once, off the fast path, in DPDK memory on the
 * socket of the lcores that use it, and initialised for the best code path
 * of this CPU (AVX2 here; AVX-512 where present). It lives in DPDK memory
 * like the contexts that point to it: a libc one whose only pointer sits in
 * rte_malloc memory (which LeakSanitizer does not scan) is reported leaked
 * whenever a leak check runs while it is alive, as libFuzzer's do mid-run.
 * Managers hold no key material (keys live in the callers' expanded key
 * data).
 */
#ifndef MG_IMB_H
#define MG_IMB_H

#include <intel-ipsec-mb.h>

/**
 * A new manager on NUMA socket @p socket_id (or SOCKET_ID_ANY).
 *
 * @return the manager, or NULL with rte_errno ENOMEM (no DPDK memory) or
 *   ENOTSUP (the library cannot run on this CPU).
 */
IMB_MGR *mg_imb_mgr_create(int socket_id);

/** Free a manager of mg_imb_mgr_create(); NULL is a no-op. */
void mg_imb_mgr_free(IMB_MGR *mgr);

#endif /* MG_IMB_H */
