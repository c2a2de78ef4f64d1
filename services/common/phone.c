/*
 * phone.c — sealing and opening phone numbers.
 */
#include "phone.h"

#include <sodium.h>
#include <string.h>

int sq_phone_key_parse(const char *hex, unsigned char key[SQ_PHONE_KEY_BYTES])
{
    size_t bin_len = 0;
    if (!hex || strlen(hex) != 2 * SQ_PHONE_KEY_BYTES ||
        sodium_hex2bin(key, SQ_PHONE_KEY_BYTES, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
        bin_len != SQ_PHONE_KEY_BYTES)
        return SQ_INVALID;
    return SQ_OK;
}

bool sq_phone_valid(const char *phone)
{
    size_t n = phone ? strlen(phone) : 0, digits = 0;
    if (n < 5 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = phone[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if (c != '+' && c != '-' && c != ' ')
            return false;
    }
    return digits >= 5;
}

int sq_phone_seal(const unsigned char key[SQ_PHONE_KEY_BYTES], const char *phone, unsigned char *out)
{
    size_t n = strlen(phone);
    if (n > SQ_PHONE_SEALED_MAX - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES)
        return -1;
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, (const unsigned char *)phone, n, out, key);
    return (int)(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n);
}

int sq_phone_open(const unsigned char key[SQ_PHONE_KEY_BYTES], const unsigned char *sealed, size_t len,
                  char *out, size_t outlen)
{
    if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return SQ_INVALID;
    size_t n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    if (n + 1 > outlen || sodium_init() < 0)
        return SQ_INVALID;
    if (crypto_secretbox_open_easy((unsigned char *)out, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, key) != 0)
        return SQ_INVALID;
    out[n] = '\0';
    return SQ_OK;
}
