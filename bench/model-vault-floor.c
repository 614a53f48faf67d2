/*
 * The native floor for model-vault's decrypt+verify, used only by `npm run bench:model-vault`:
 * the same work as the loader on the same ciphertext objects (format 2), with nothing but
 * OpenSSL's EVP AES-256-GCM, SHA-256 per chunk record and pwrite, on N threads that take chunks
 * from a shared counter. It exists to say how fast this machine can do the work at all.
 *
 * usage: model-vault-floor THREADS CHUNK_SIZE KEY_HEX OBJECT OUTPUT PLAIN_SIZE INDEX [...]
 * Prints, per file, the root of its record hashes (to compare with the manifest).
 * Build: gcc -O2 -pthread model-vault-floor.c -lcrypto
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER 64
#define TAG 16

struct file {
    int in, out;
    uint64_t size, chunks;
    uint32_t index;
    unsigned char header[HEADER];
    unsigned char *digests; /* chunks * 32 */
};

static struct file *files;
static int nfiles;
static uint64_t chunk_size;
static unsigned char key[32];
static atomic_ullong next_job;
static uint64_t total_jobs;
static atomic_int failed;

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static void die(const char *what) {
    perror(what);
    exit(4);
}

static void *worker(void *arg) {
    (void)arg;
    unsigned char *rec = malloc(chunk_size + TAG), *plain = malloc(chunk_size + 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!rec || !plain || !c || !h) die("alloc");
    for (;;) {
        uint64_t job = atomic_fetch_add(&next_job, 1);
        if (job >= total_jobs || atomic_load(&failed)) break;
        int f = 0;
        while (job >= files[f].chunks) job -= files[f++].chunks;
        struct file *F = &files[f];
        uint64_t i = job;
        uint64_t len = i < F->chunks - 1 ? chunk_size : F->size - chunk_size * (F->chunks - 1);
        off_t at = HEADER + (off_t)i * (off_t)(chunk_size + TAG);
        for (uint64_t got = 0; got < len + TAG;) {
            ssize_t n = pread(F->in, rec + got, len + TAG - got, at + (off_t)got);
            if (n <= 0) die("pread");
            got += (uint64_t)n;
        }
        unsigned char nonce[12], aad[HEADER + 29];
        nonce[0] = F->index >> 24, nonce[1] = F->index >> 16, nonce[2] = F->index >> 8,
        nonce[3] = F->index;
        put64(nonce + 4, i);
        memcpy(aad, F->header, HEADER);
        put64(aad + 64, F->size);
        aad[72] = chunk_size >> 24, aad[73] = chunk_size >> 16, aad[74] = chunk_size >> 8,
        aad[75] = chunk_size;
        put64(aad + 76, i);
        put64(aad + 84, F->chunks);
        aad[92] = i == F->chunks - 1;
        int outl = 0, finl = 0;
        unsigned int dl = 0;
        if (!EVP_DigestInit_ex(h, EVP_sha256(), NULL) || !EVP_DigestUpdate(h, rec, len + TAG) ||
            !EVP_DigestFinal_ex(h, F->digests + 32 * i, &dl))
            die("sha256");
        if (!EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) ||
            !EVP_DecryptUpdate(c, NULL, &outl, aad, sizeof aad) ||
            !EVP_DecryptUpdate(c, plain, &outl, rec, (int)len) ||
            !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, rec + len) ||
            EVP_DecryptFinal_ex(c, plain + outl, &finl) <= 0) {
            fprintf(stderr, "file %u chunk %llu fails authentication\n", F->index,
                    (unsigned long long)i);
            atomic_store(&failed, 1);
            break;
        }
        for (uint64_t put = 0; put < len;) {
            ssize_t n = pwrite(F->out, plain + put, len - put, (off_t)(i * chunk_size + put));
            if (n <= 0) die("pwrite");
            put += (uint64_t)n;
        }
    }
    EVP_CIPHER_CTX_free(c);
    EVP_MD_CTX_free(h);
    free(rec);
    free(plain);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 8 || (argc - 4) % 4 != 0) {
        fprintf(stderr, "usage: %s THREADS CHUNK_SIZE KEY_HEX [OBJECT OUTPUT SIZE INDEX]...\n",
                argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    chunk_size = strtoull(argv[2], NULL, 10);
    for (int i = 0; i < 32; i++) sscanf(argv[3] + 2 * i, "%2hhx", &key[i]);
    nfiles = (argc - 4) / 4;
    files = calloc((size_t)nfiles, sizeof *files);
    for (int f = 0; f < nfiles; f++) {
        char **a = argv + 4 + 4 * f;
        struct file *F = &files[f];
        F->in = open(a[0], O_RDONLY);
        F->out = open(a[1], O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (F->in < 0 || F->out < 0) die(a[0]);
        F->size = strtoull(a[2], NULL, 10);
        F->index = (uint32_t)strtoul(a[3], NULL, 10);
        F->chunks = F->size == 0 ? 1 : (F->size + chunk_size - 1) / chunk_size;
        if (pread(F->in, F->header, HEADER, 0) != HEADER) die("header");
        F->digests = malloc(32 * F->chunks);
        total_jobs += F->chunks;
    }
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    if (atomic_load(&failed)) return 1;
    static const char prefix[] = "model-vault/2 chunk-root\n";
    for (int f = 0; f < nfiles; f++) {
        unsigned char root[32];
        unsigned int rl = 0;
        EVP_MD_CTX *h = EVP_MD_CTX_new();
        EVP_DigestInit_ex(h, EVP_sha256(), NULL);
        EVP_DigestUpdate(h, prefix, sizeof prefix - 1);
        EVP_DigestUpdate(h, files[f].digests, 32 * files[f].chunks);
        EVP_DigestFinal_ex(h, root, &rl);
        EVP_MD_CTX_free(h);
        for (int i = 0; i < 32; i++) printf("%02x", root[i]);
        printf("\n");
        close(files[f].out);
    }
    return 0;
}
