/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FUZZ_CTL_H
#define MG_FUZZ_CTL_H

/*
 * The control plane fixture of the NSM socket and REST harnesses: a model
 * loaded from a small YAML file (the networks, ports, VLANs, addresses,
 * neighbors and routes a request can name), no data plane behind it (the
 * model's backend is absent, as in the unit tests), and the control plane of
 * lib/ctl on top. Each input starts from that state: an input that leaves
 * the model changed gets the fixture rebuilt before the next one.
 *
 *   networks default, blue (fragments and IP options dropped)
 *   ports    p0 (net_null0, default, 10.0.0.1/24 fd00::1/64, VLAN 100 in blue)
 *            p1 (net_null1, blue, 10.1.0.1/24)
 *   neighbor 10.0.0.2 on p0; routes 198.51.100.0/24 via 10.0.0.2, ::/0 via fd00::2,
 *            172.16.0.0/12 on p0.100 (blue)
 */

#include <stdbool.h>

struct mg_ctl;
struct mg_model;

struct fz_ctl {
	struct mg_model *model;
	struct mg_ctl *ctl;
	char nsm_socket[128];   /**< Path of the NSM socket ("" if none). */
};

/** The REST bearer token of the fixture. */
#define FZ_CTL_TOKEN "fuzz-token-0123456789"

/**
 * The fixture for the next input, with the NSM socket listening if @p nsm
 * (in a directory of this process): the one the input before left, if it
 * left it as built, else a new one. Building one costs far more than most
 * inputs (the control plane's tables), hence the reuse.
 */
struct fz_ctl *fz_ctl_get(bool nsm);

/**
 * After an input: close every connection (each must undo what it added),
 * then compare the model with what the fixture built. With
 * @p must_be_pristine a difference is a finding; otherwise a changed
 * fixture is torn down and the next input gets a new one.
 */
void fz_ctl_put(struct fz_ctl *f, bool must_be_pristine);

#endif /* MG_FUZZ_CTL_H */
