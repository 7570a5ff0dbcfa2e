/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_ESP_ALGOS_H
#define MG_ESP_ALGOS_H

/**
 * @file
 * The ESP algorithms meshgate offers and their key sizes, with no DPDK
 * dependency: the model and the configuration validate SAs with it before
 * lib/esp (mg_esp.h) builds them.
 */

#include <stdint.h>
#include <string.h>

/**
 * Algorithms: enum suffix, name, cipher key bytes, HMAC key bytes, salt bytes.
 * NULL_SHA256 is NULL encryption (RFC 2410) with HMAC-SHA-256-128: integrity
 * only, for tests and debugging (scapy and ipsec-secgw both have it). ESP
 * with neither encryption nor integrity (RFC 4303 forbids it) is not offered.
 */
#define MG_ESP_ALGOS(_)                                                                     \
	_(AES_GCM_128, "aes-gcm-128", 16, 0, 4)                                            \
	_(AES_GCM_256, "aes-gcm-256", 32, 0, 4)                                            \
	_(AES_CBC_128_SHA256, "aes-cbc-128-hmac-sha256", 16, 32, 0)                        \
	_(AES_CBC_256_SHA256, "aes-cbc-256-hmac-sha256", 32, 32, 0)                        \
	_(CHACHA20_POLY1305, "chacha20-poly1305", 32, 0, 4)                                \
	_(NULL_SHA256, "null-hmac-sha256", 0, 32, 0)

/** An ESP algorithm (combined mode, or cipher + HMAC). */
enum mg_esp_algo {
#define MG_ESP_ALGO_ENUM(e, n, k, a, s) MG_ESP_##e,
	MG_ESP_ALGOS(MG_ESP_ALGO_ENUM)
#undef MG_ESP_ALGO_ENUM
	MG_ESP_ALGO_MAX
};

/** Key sizes of an algorithm. */
struct mg_esp_algo_keys {
	uint8_t key;   /**< Cipher key bytes (0 for NULL). */
	uint8_t auth;  /**< HMAC key bytes (0 for combined mode). */
	uint8_t salt;  /**< Salt bytes (AES-GCM, ChaCha20-Poly1305). */
};

/** Algorithm named @p name, or -1 (header-only, for the model and the config). */
static inline int
mg_esp_algo_lookup(const char *name)
{
	static const char *const names[] = {
#define MG_ESP_ALGO_NAME(e, n, k, a, s) n,
		MG_ESP_ALGOS(MG_ESP_ALGO_NAME)
#undef MG_ESP_ALGO_NAME
	};

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/** Key sizes of algorithm @p algo (a valid enum mg_esp_algo). */
static inline struct mg_esp_algo_keys
mg_esp_algo_keys(int algo)
{
	static const struct mg_esp_algo_keys t[] = {
#define MG_ESP_ALGO_KEYS(e, n, k, a, s) {k, a, s},
		MG_ESP_ALGOS(MG_ESP_ALGO_KEYS)
#undef MG_ESP_ALGO_KEYS
	};

	return t[algo];
}

/** Name of algorithm @p algo, or "?" (header-only, for the control plane). */
static inline const char *
mg_esp_algo_str(int algo)
{
	static const char *const names[] = {
#define MG_ESP_ALGO_NAME2(e, n, k, a, s) n,
		MG_ESP_ALGOS(MG_ESP_ALGO_NAME2)
#undef MG_ESP_ALGO_NAME2
	};

	return algo >= 0 && algo < (int)(sizeof(names) / sizeof(names[0])) ? names[algo] : "?";
}

/** Every algorithm name, comma separated (for messages). */
#define MG_ESP_ALGO_LIST \
	"aes-gcm-128, aes-gcm-256, aes-cbc-128-hmac-sha256, aes-cbc-256-hmac-sha256, " \
	"chacha20-poly1305, null-hmac-sha256"

#endif /* MG_ESP_ALGOS_H */
