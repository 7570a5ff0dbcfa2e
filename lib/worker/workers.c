/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_interrupts.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "mg_capture.h"
#include "mg_ct.h"
#include "mg_dp.h"
#include "mg_nodes.h"
#include "mg_port.h"
#include "mg_svc_rt.h"
#include "mg_workers.h"

RTE_LOG_REGISTER_SUFFIX(mg_worker_logtype, worker, INFO);
#define W_LOG(l, ...) rte_log(RTE_LOG_##l, mg_worker_logtype, "worker: " __VA_ARGS__)

static struct mg_idle_conf idle_conf;
/* Which (port, queue) pairs have RX interrupts, for the interrupt idle mode. */
static uint8_t port_intr[MG_MAX_PORTS];

unsigned int
mg_workers_available(void)
{
	return rte_lcore_count() - 1;
}

int
mg_workers_setup(struct mg_dp *dp, const unsigned int *lcores, unsigned int n,
		 const struct mg_idle_conf *idle, uint16_t burst, struct mg_error *err)
{
	unsigned int list[RTE_MAX_LCORE], cnt = 0, lc;

	idle_conf = *idle;
	if (n == 0) {
		RTE_LCORE_FOREACH_WORKER(lc)
			list[cnt++] = lc;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			if (lcores[i] >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcores[i]))
				return mg_error_set(err, EINVAL, "workers.lcores",
						    "lcore %u is not in the EAL lcore set", lcores[i]);
			if (lcores[i] == rte_get_main_lcore())
				return mg_error_set(err, EINVAL, "workers.lcores",
						    "lcore %u is the main lcore", lcores[i]);
			list[cnt++] = lcores[i];
		}
	}
	if (cnt != dp->nb_workers)
		return mg_error_set(err, EINVAL, "workers", "expected %u worker lcores, have %u",
				    dp->nb_workers, cnt);
	for (unsigned int w = 0; w < cnt; w++) {
		struct mg_worker *wk = dp->workers[w];
		int node = mg_port_lcore_node(list[w]);

		wk->lcore = list[w];
		wk->rx_burst = burst;
		wk->stats = &dp->stats[list[w]];
		if (node != mg_port_lcore_node(rte_get_main_lcore()))
			W_LOG(INFO, "worker %u on lcore %u, NUMA node %d\n", w, list[w], node);
		wk->graph_id = mg_nodes_graph_create(dp, w, node);
		if (wk->graph_id == RTE_GRAPH_ID_INVALID)
			return mg_error_set(err, rte_errno ? rte_errno : EINVAL, "workers",
					    "cannot create the graph of worker %u: %s", w,
					    rte_strerror(rte_errno));
		{
			char name[RTE_GRAPH_NAMESIZE];

			snprintf(name, sizeof(name), "mgw-%u", w);
			wk->graph = rte_graph_lookup(name);
		}
		if (rte_rcu_qsbr_thread_register(dp->rcu, w) != 0 ||
		    rte_rcu_qsbr_thread_register(dp->rcu_fib, w) != 0)
			return mg_error_set(err, EINVAL, "workers", "RCU registration failed");
	}
	return 0;
}

static struct rte_epoll_event wake_ev[MG_MAX_WORKERS];

/* Drain the wake-up eventfd; true if the main lcore had signalled it. */
static bool
wake_clear(struct mg_worker *w)
{
	uint64_t v;

	return read(w->wake_fd, &v, sizeof(v)) == sizeof(v);
}

/* Sleep up to @us, or until the main lcore injects something. */
static bool
idle_sleep(struct mg_worker *w, uint32_t us)
{
	struct pollfd pfd = {.fd = w->wake_fd, .events = POLLIN};
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

	return ppoll(&pfd, 1, &ts, NULL) > 0;
}

/*
 * Arm RX interrupts on all our queues and wait for one, for an inject, or
 * for @max_us; false (nothing armed) if some queue has no interrupts.
 */
static bool
idle_wait_intr(struct mg_worker *w, const struct mg_rxq_list *l, uint32_t max_us, bool *woken)
{
	struct rte_epoll_event ev[8];
	int n;

	for (uint16_t i = 0; i < l->n; i++)
		if (!port_intr[l->q[i].port])
			return false;
	for (uint16_t i = 0; i < l->n; i++)
		rte_eth_dev_rx_intr_enable(l->q[i].port, l->q[i].queue);
	n = rte_epoll_wait(RTE_EPOLL_PER_THREAD, ev, RTE_DIM(ev), (int)((max_us + 999) / 1000));
	for (uint16_t i = 0; i < l->n; i++)
		rte_eth_dev_rx_intr_disable(l->q[i].port, l->q[i].queue);
	*woken = n > 0;
	return true;
}

static void
intr_register(const struct mg_rxq_list *l)
{
	for (uint16_t i = 0; i < l->n; i++)
		if (port_intr[l->q[i].port])
			rte_eth_dev_rx_intr_ctl_q(l->q[i].port, l->q[i].queue, RTE_EPOLL_PER_THREAD,
						  RTE_INTR_EVENT_ADD, NULL);
}

/*
 * rte_graph_walk() as DPDK 22.11 defines it, except for statistics: Debian
 * builds DPDK with RTE_LIBRTE_GRAPH_STATS, which reads the TSC twice around
 * every node call. Here packets and calls are always counted, and cycles are
 * measured in one walk in MG_CYCLE_SAMPLE, with the packets of those walks
 * kept apart so cycles per packet stays exact.
 */
static inline void
graph_walk(struct mg_worker *w, const struct mg_dp *dp)
{
	struct rte_graph *graph = w->graph;
	const rte_graph_off_t *cir_start = graph->cir_start;
	const rte_node_t mask = graph->cir_mask;
	uint32_t head = graph->head;
	const bool timed = (++w->walks & (MG_CYCLE_SAMPLE - 1)) == 0;
	/* Captures: one load per walk; nothing else when none runs. */
	const struct mg_cap_set *cap = __atomic_load_n(&dp->capture, __ATOMIC_ACQUIRE);
	const uint64_t cap_nodes = cap != NULL ? mg_capture_node_mask(cap) : 0;

	while (likely(head != graph->tail)) {
		struct rte_node *node =
			(struct rte_node *)RTE_PTR_ADD(graph, cir_start[(int32_t)head++]);
		void **objs = node->objs;
		uint16_t rc;

		rte_prefetch0(objs);
		if (unlikely(cap_nodes != 0) && node->id < 64 && (cap_nodes >> node->id & 1) &&
		    node->idx != 0)
			mg_capture_node(w, cap, node->id, objs, node->idx);
		if (unlikely(timed)) {
			uint64_t start = rte_rdtsc();

			rc = node->process(graph, node, objs, node->idx);
			/* An empty poll of a source node is no packet's cost. */
			if (rc != 0) {
				node->total_cycles += rte_rdtsc() - start;
				if (likely(node->id < MG_MAX_NODES))
					w->sampled_objs[node->id] += rc;
			}
		} else {
			rc = node->process(graph, node, objs, node->idx);
		}
		node->total_calls++;
		node->total_objs += rc;
		node->idx = 0;
		head = likely((int32_t)head > 0) ? head & mask : head;
	}
	graph->tail = 0;
}

/* Flows the tracker's expiry visits per network after each busy / idle graph walk. */
#define CT_EXPIRE_BUDGET_BUSY 16
#define CT_EXPIRE_BUDGET_IDLE 256

/*
 * Expire idle flows of the networks that track them (lib/flow): a bounded
 * pass over this worker's table of each, once per walk. Nothing when no
 * network tracks flows (one load).
 */
static inline void
ct_housekeep(struct mg_dp *dp, const struct mg_worker *w, unsigned int budget)
{
	uint16_t n = __atomic_load_n(&dp->ct_nets, __ATOMIC_RELAXED);
	uint64_t now;

	if (likely(n == 0))
		return;
	now = rte_rdtsc();
	for (uint16_t i = 0; i < n; i++) {
		const struct mg_ct_set *s = __atomic_load_n(&dp->ct[i], __ATOMIC_ACQUIRE);

		if (s != NULL && w->index < s->nb_workers)
			mg_ct_expire(s->t[w->index], now, budget);
	}
}

static int
worker_main(void *arg)
{
	struct mg_dp *dp = mg_dp_get();
	struct mg_worker *w = arg;
	const struct mg_idle_conf *ic = &idle_conf;
	const struct mg_rxq_list *intr_list = NULL;
	uint32_t idle = 0, sleep_us = ic->sleep_min_us;

	RTE_ASSERT(rte_lcore_id() == w->lcore);
	/* Let short sleeps be short: the default 50 us timer slack would not. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	if (ic->mode == MG_IDLE_INTERRUPT) {
		/* The main lcore's wake-ups arrive in the same epoll set as RX. */
		wake_ev[w->index].epdata.event = EPOLLIN;
		rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, w->wake_fd, &wake_ev[w->index]);
	}
	rte_rcu_qsbr_thread_online(dp->rcu, w->index);
	W_LOG(INFO, "worker %u running on lcore %u\n", w->index, w->lcore);
	while (!__atomic_load_n(&w->quit, __ATOMIC_RELAXED)) {
		w->walk_pkts = 0;
		graph_walk(w, dp);
		ct_housekeep(dp, w, w->walk_pkts != 0 ? CT_EXPIRE_BUDGET_BUSY : CT_EXPIRE_BUDGET_IDLE);
		rte_rcu_qsbr_quiescent(dp->rcu, w->index);
		if (likely(w->walk_pkts != 0)) {
			idle = 0;
			sleep_us = ic->sleep_min_us;
			w->stats->busy_walks++;
			continue;
		}
		w->stats->idle_walks++;
		/* Idle: expire the service flows no packet visits (lib/svc). */
		if ((w->stats->idle_walks & 63) == 0)
			mg_svc_rt_housekeep(w->index, 1024);
		if (ic->mode == MG_IDLE_POLL)
			continue;
		if (++idle < ic->pause_polls)
			continue;
		if (ic->mode == MG_IDLE_PAUSE || idle < ic->sleep_polls) {
			rte_pause();
			continue;
		}
		/* Nothing for a while: leave the CPU to others. */
		rte_rcu_qsbr_thread_offline(dp->rcu, w->index);
		w->stats->idle_sleeps++;
		__atomic_store_n(&w->sleeping, 1, __ATOMIC_RELAXED);
		/* Pairs with mg_dp_inject: see the packet, or be woken for it. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (rte_ring_count(w->inject) == 0) {
			bool woken = false;

			if (ic->mode == MG_IDLE_INTERRUPT) {
				const struct mg_rxq_list *l =
					__atomic_load_n(&w->rxqs, __ATOMIC_ACQUIRE);

				if (l != intr_list) {
					intr_register(l);
					intr_list = l;
				}
				if (!idle_wait_intr(w, l, ic->sleep_max_us, &woken))
					woken = idle_sleep(w, sleep_us);
			} else {
				woken = idle_sleep(w, sleep_us);
			}
			w->stats->idle_wakeups += woken;
			if (woken) {
				/*
				 * Something arrived: poll again before the next sleep. Some
				 * PMDs (net_tap gates RX on a SIGIO counter) may not show the
				 * packet on the very next poll.
				 */
				idle = 0;
				sleep_us = ic->sleep_min_us;
			}
		}
		__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
		wake_clear(w);
		rte_rcu_qsbr_thread_online(dp->rcu, w->index);
		if (idle != 0)
			sleep_us = RTE_MIN(sleep_us * 2, ic->sleep_max_us);
	}
	rte_rcu_qsbr_thread_offline(dp->rcu, w->index);
	W_LOG(INFO, "worker %u stopped\n", w->index);
	return 0;
}

int
mg_workers_launch(struct mg_dp *dp)
{
	for (unsigned int w = 0; w < dp->nb_workers; w++) {
		int rc = rte_eal_remote_launch(worker_main, dp->workers[w], dp->workers[w]->lcore);

		if (rc != 0)
			return rc;
	}
	return 0;
}

void
mg_workers_stop(struct mg_dp *dp)
{
	for (unsigned int w = 0; w < dp->nb_workers; w++)
		__atomic_store_n(&dp->workers[w]->quit, 1, __ATOMIC_RELEASE);
	for (unsigned int w = 0; w < dp->nb_workers; w++)
		rte_eal_wait_lcore(dp->workers[w]->lcore);
}

int
mg_workers_add_port(struct mg_dp *dp, uint16_t ethdev, uint16_t nb_rxq, const uint16_t *owner,
		    bool rx_intr)
{
	struct mg_rxq q[256];

	port_intr[ethdev] = rx_intr;
	for (unsigned int w = 0; w < dp->nb_workers; w++) {
		const struct mg_rxq_list *l = dp->workers[w]->rxqs;
		unsigned int n = 0;

		for (uint16_t i = 0; i < l->n && n < RTE_DIM(q); i++)
			q[n++] = l->q[i];
		for (uint16_t k = 0; k < nb_rxq; k++)
			if ((owner ? owner[k] : k % dp->nb_workers) == w && n < RTE_DIM(q))
				q[n++] = (struct mg_rxq){.port = ethdev, .queue = k};
		if (mg_dp_worker_set_rxqs(dp, w, q, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
mg_workers_del_port(struct mg_dp *dp, uint16_t ethdev)
{
	struct mg_rxq q[256];

	for (unsigned int w = 0; w < dp->nb_workers; w++) {
		const struct mg_rxq_list *l = dp->workers[w]->rxqs;
		unsigned int n = 0;

		for (uint16_t i = 0; i < l->n && n < RTE_DIM(q); i++)
			if (l->q[i].port != ethdev)
				q[n++] = l->q[i];
		if (mg_dp_worker_set_rxqs(dp, w, q, n) < 0)
			return -ENOMEM;
	}
	port_intr[ethdev] = 0;
	return 0;
}
