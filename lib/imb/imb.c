/* SPDX-License-Identifier: BSD-3-Clause */
/* intel-ipsec-mb managers in DPDK memory (mg_imb.h). */
#include <errno.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "mg_imb.h"

IMB_MGR *
mg_imb_mgr_create(int socket_id)
{
	void *mem = rte_zmalloc_socket("mg_imb_mgr", imb_get_mb_mgr_size(), 64, socket_id);
	IMB_MGR *m;

	if (mem == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	/* Lays the manager out in @mem (64-byte aligned: it returns @mem). */
	m = imb_set_pointers_mb_mgr(mem, 0, 1);
	if (m != NULL)
		init_mb_mgr_auto(m, NULL);
	if (m != mem || imb_get_errno(m) != 0) {
		rte_free(mem);
		rte_errno = ENOTSUP;
		return NULL;
	}
	return m;
}

void
mg_imb_mgr_free(IMB_MGR *mgr)
{
	rte_free(mgr);
}
