/*
 * phone.h — residents' phone numbers, sealed (libsodium secretbox,
 * XSalsa20-Poly1305) with a 32-byte key from configuration before they reach
 * Kafka, opened only by the notifier for the assignee's payload.
 * Sealed form: 24-byte nonce || ciphertext+MAC.
 */
#ifndef SQ_PHONE_H
#define SQ_PHONE_H

#include "sq.h"

#define SQ_PHONE_KEY_BYTES 32
#define SQ_PHONE_SEALED_MAX 96

/* 64 hex characters → key. SQ_OK or SQ_INVALID. */
int sq_phone_key_parse(const char *hex, unsigned char key[SQ_PHONE_KEY_BYTES]);
/* True for a plausible phone number: 5–20 characters of digits, '+', '-', spaces. */
bool sq_phone_valid(const char *phone);
/* Seals phone into out (SQ_PHONE_SEALED_MAX bytes); returns the sealed length, or -1. */
int sq_phone_seal(const unsigned char key[SQ_PHONE_KEY_BYTES], const char *phone, unsigned char *out);
/* Opens a sealed phone into out (NUL-terminated). SQ_OK or SQ_INVALID (wrong key, tampered). */
int sq_phone_open(const unsigned char key[SQ_PHONE_KEY_BYTES], const unsigned char *sealed, size_t len,
                  char *out, size_t outlen);

#endif
