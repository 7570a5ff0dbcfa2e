/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The protocol timers of one peer as a pure state machine: events move
 * deadlines, mg_wg_timers_expire turns due deadlines into actions. The
 * rules follow the paper's section 6 as the Linux module and wireguard-go
 * run them:
 * - an initiation is retried every REKEY_TIMEOUT + jitter, at most
 *   MAX_TIMER_HANDSHAKES times (REKEY_ATTEMPT_TIME), then given up;
 * - no two initiations leave less than REKEY_TIMEOUT apart, and a wanted
 *   initiation waits for the retry of one in flight;
 * - data received and nothing sent for KEEPALIVE_TIMEOUT: a keepalive;
 * - data sent and nothing received for KEEPALIVE + REKEY_TIMEOUT: a new
 *   handshake;
 * - the initiator rekeys when it sends after REKEY_AFTER_TIME, and once
 *   when it receives after REJECT_AFTER_TIME - KEEPALIVE - REKEY_TIMEOUT;
 * - keys are wiped REJECT_AFTER_TIME * 3 after the last session.
 */
#include "wg_priv.h"

#ifdef MG_TEST_TIMERS
/* Real values until a test changes them. */
struct mg_wg_test_times wg_test_times = {
	.rekey_after = (uint64_t)WG_REKEY_AFTER_TIME * WG_NS_PER_S,
	.reject_after = (uint64_t)WG_REJECT_AFTER_TIME * WG_NS_PER_S,
	.rekey_timeout = (uint64_t)WG_REKEY_TIMEOUT * WG_NS_PER_S,
	.jitter_max = (uint64_t)WG_REKEY_TIMEOUT_JITTER_MAX_MS * WG_NS_PER_MS,
	.keepalive = (uint64_t)WG_KEEPALIVE_TIMEOUT * WG_NS_PER_S,
	.cookie_max_age = (uint64_t)WG_COOKIE_SECRET_MAX_AGE * WG_NS_PER_S,
	.cookie_latency = (uint64_t)WG_COOKIE_SECRET_LATENCY * WG_NS_PER_S,
};

void
mg_wg_test_set_times(const struct mg_wg_test_times *t)
{
	static const struct mg_wg_test_times real = {
		.rekey_after = (uint64_t)WG_REKEY_AFTER_TIME * WG_NS_PER_S,
		.reject_after = (uint64_t)WG_REJECT_AFTER_TIME * WG_NS_PER_S,
		.rekey_timeout = (uint64_t)WG_REKEY_TIMEOUT * WG_NS_PER_S,
		.jitter_max = (uint64_t)WG_REKEY_TIMEOUT_JITTER_MAX_MS * WG_NS_PER_MS,
		.keepalive = (uint64_t)WG_KEEPALIVE_TIMEOUT * WG_NS_PER_S,
		.cookie_max_age = (uint64_t)WG_COOKIE_SECRET_MAX_AGE * WG_NS_PER_S,
		.cookie_latency = (uint64_t)WG_COOKIE_SECRET_LATENCY * WG_NS_PER_S,
	};

	wg_test_times = t != NULL ? *t : real;
}
#endif

/* A uniform jitter in [0, jitter_max) from the peer's generator (xorshift64*). */
static uint64_t
jitter(struct mg_wg_timers *t)
{
	if (WG_T_JITTER_MAX == 0)
		return 0;
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return (t->rng * 0x2545F4914F6CDD1DULL >> 11) % WG_T_JITTER_MAX;
}

void
mg_wg_timers_init(struct mg_wg_timers *t, uint16_t persistent_keepalive, uint64_t seed)
{
	*t = (struct mg_wg_timers){
		.retransmit_at = MG_WG_NEVER,
		.new_handshake_at = MG_WG_NEVER,
		.keepalive_at = MG_WG_NEVER,
		.persistent_at = MG_WG_NEVER,
		.zero_keys_at = MG_WG_NEVER,
		.initiate_at = MG_WG_NEVER,
		.last_initiation = MG_WG_NEVER,
		.session_birth = MG_WG_NEVER,
		.next_birth = MG_WG_NEVER,
		.rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL,
		.persistent_keepalive = persistent_keepalive,
	};
}

void
mg_wg_timers_set_persistent_keepalive(struct mg_wg_timers *t, uint16_t seconds, uint64_t now_ns)
{
	t->persistent_keepalive = seconds;
	t->persistent_at = seconds != 0 ? now_ns : MG_WG_NEVER;
}

/* Ask for a new (not retried) initiation now. */
static void
want_initiation(struct mg_wg_timers *t, uint64_t now)
{
	if (t->initiate_at > now)
		t->initiate_at = now;
}

void
mg_wg_timers_event(struct mg_wg_timers *t, enum mg_wg_timer_event ev, uint64_t now)
{
	switch (ev) {
	case MG_WG_TEV_DATA_SENT:
		if (t->new_handshake_at == MG_WG_NEVER)
			t->new_handshake_at = now + WG_T_KEEPALIVE + WG_T_REKEY_TIMEOUT + jitter(t);
		/* fall through */
	case MG_WG_TEV_KEEPALIVE_SENT:
		/*
		 * The initiator's sessions are refreshed after REKEY_AFTER_TIME,
		 * on any data message sent, a keepalive too (as the Linux module
		 * and wireguard-go do: a peer that only keeps the path alive
		 * still rekeys on time).
		 */
		if (t->has_session && t->session_initiator &&
		    wg_expired(t->session_birth, WG_T_REKEY_AFTER, now))
			want_initiation(t, now);
		break;
	case MG_WG_TEV_DATA_RECEIVED:
		if (t->keepalive_at == MG_WG_NEVER)
			t->keepalive_at = now + WG_T_KEEPALIVE;
		else
			t->another_keepalive = true;
		break;
	case MG_WG_TEV_TRANSPORT_RECEIVED:
		/*
		 * Last chance for the initiator before its session dies on the other
		 * side: on any transport message received, a keepalive too (a peer
		 * that only keeps the path alive would otherwise let it die).
		 */
		if (t->has_session && t->session_initiator && !t->sent_lastminute &&
		    wg_expired(t->session_birth,
			       WG_T_REJECT_AFTER - WG_T_KEEPALIVE - WG_T_REKEY_TIMEOUT, now)) {
			t->sent_lastminute = true;
			want_initiation(t, now);
		}
		break;
	case MG_WG_TEV_AUTH_SENT:
		t->keepalive_at = MG_WG_NEVER;
		break;
	case MG_WG_TEV_AUTH_RECEIVED:
		t->new_handshake_at = MG_WG_NEVER;
		break;
	case MG_WG_TEV_AUTH_TRAVERSAL:
		if (t->persistent_keepalive != 0)
			t->persistent_at = now + (uint64_t)t->persistent_keepalive * WG_NS_PER_S;
		break;
	case MG_WG_TEV_HANDSHAKE_INITIATED:
		t->retransmit_at = now + WG_T_REKEY_TIMEOUT + jitter(t);
		t->last_initiation = now;
		break;
	case MG_WG_TEV_HANDSHAKE_COMPLETE:
		t->retransmit_at = MG_WG_NEVER;
		t->attempts = 0;
		t->sent_lastminute = false;
		break;
	case MG_WG_TEV_SESSION_INITIATOR:
		t->zero_keys_at = now + 3 * WG_T_REJECT_AFTER;
		t->has_session = true;
		t->session_initiator = true;
		t->session_birth = now;
		break;
	case MG_WG_TEV_SESSION_RESPONDER:
		/* Not sent on until confirmed: the rekey checks keep the current session's facts. */
		t->zero_keys_at = now + 3 * WG_T_REJECT_AFTER;
		t->has_session = true;
		t->next_birth = now;
		break;
	case MG_WG_TEV_SESSION_CONFIRMED:
		t->session_initiator = false;
		t->session_birth = t->next_birth;
		break;
	case MG_WG_TEV_WANT_HANDSHAKE:
		want_initiation(t, now);
		break;
	case MG_WG_TEV_KEYS_ZEROED:
		t->has_session = false;
		t->zero_keys_at = MG_WG_NEVER;
		break;
	}
}

uint32_t
mg_wg_timers_expire(struct mg_wg_timers *t, uint64_t now)
{
	uint32_t act = 0;
	bool fresh = false;

	if (t->retransmit_at <= now) {
		t->retransmit_at = MG_WG_NEVER;
		if (t->attempts > WG_MAX_TIMER_HANDSHAKES) {
			/* Give up; wipe what is left later if nothing else does. */
			act |= MG_WG_ACT_GIVE_UP;
			t->keepalive_at = MG_WG_NEVER;
			t->initiate_at = MG_WG_NEVER;
			if (t->zero_keys_at == MG_WG_NEVER)
				t->zero_keys_at = now + 3 * WG_T_REJECT_AFTER;
		} else {
			t->attempts++;
			act |= MG_WG_ACT_SEND_INITIATION;
		}
	}
	if (t->new_handshake_at <= now) {
		t->new_handshake_at = MG_WG_NEVER;
		fresh = true;
	}
	if (t->initiate_at <= now) {
		t->initiate_at = MG_WG_NEVER;
		fresh = true;
	}
	if (fresh) {
		/*
		 * A new initiation restarts the attempt count, even when held back.
		 * It is held back while an initiation is in flight: its retry comes
		 * REKEY_TIMEOUT + jitter after it. Sending at once would let two
		 * peers whose persistent keepalives fire together (their traversal
		 * events are the same packets) initiate at the same instant after
		 * every collision, forever; the jittered retries break the tie.
		 */
		t->attempts = 0;
		if ((t->last_initiation == MG_WG_NEVER ||
		     wg_expired(t->last_initiation, WG_T_REKEY_TIMEOUT, now)) &&
		    t->retransmit_at == MG_WG_NEVER)
			act |= MG_WG_ACT_SEND_INITIATION;
	}
	if (t->keepalive_at <= now) {
		t->keepalive_at = MG_WG_NEVER;
		act |= MG_WG_ACT_SEND_KEEPALIVE;
		if (t->another_keepalive) {
			t->another_keepalive = false;
			t->keepalive_at = now + WG_T_KEEPALIVE;
		}
	}
	if (t->persistent_at <= now) {
		t->persistent_at = MG_WG_NEVER;
		if (t->persistent_keepalive != 0)
			act |= MG_WG_ACT_SEND_KEEPALIVE;
	}
	if (t->zero_keys_at <= now) {
		t->zero_keys_at = MG_WG_NEVER;
		t->has_session = false;
		act |= MG_WG_ACT_ZERO_KEYS;
	}
	return act;
}

uint64_t
mg_wg_timers_next(const struct mg_wg_timers *t)
{
	uint64_t d = t->retransmit_at;

	if (t->new_handshake_at < d)
		d = t->new_handshake_at;
	if (t->keepalive_at < d)
		d = t->keepalive_at;
	if (t->persistent_at < d)
		d = t->persistent_at;
	if (t->zero_keys_at < d)
		d = t->zero_keys_at;
	if (t->initiate_at < d)
		d = t->initiate_at;
	return d;
}
