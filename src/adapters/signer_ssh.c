/* SPDX-License-Identifier: MIT */
/*
 * SSH signatures as git makes them with gpg.format = ssh: "ssh-keygen -Y
 * sign -n git -f KEY" over the object's bytes (git's gpg-interface.c).
 * The key is read once into a sealed memfd that ssh-keygen opens as
 * /dev/fd/3: no temporary file, no path or key in argv. ssh-keygen gets
 * its input and output through memfds too, runs in a new session (no
 * terminal to prompt on) with SSH_AUTH_SOCK and askpass unset, and is
 * killed after SSH_SIGN_TIMEOUT_MS.
 */
#include "signer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SSH_SIGN_TIMEOUT_MS 30000
#define KEY_FD 3
#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"

extern char **environ;

int signer__read_file(const char *path, char **buf, size_t *len,
		      struct st_error *err, const char *desc)
{
	char *b = malloc(SIGNER_KEY_FILE_MAX + 1);
	struct stat st;
	ssize_t r;
	size_t n = 0;
	int fd;

	if (!b)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? errno : 0;

		if (fd >= 0)
			close(fd);
		free(b);
		return st_error_set(err, ST_ECONFIG, "%s: cannot read the key "
				    "file: %s", desc,
				    e ? strerror(e) : "not a regular file");
	}
	while (n <= SIGNER_KEY_FILE_MAX &&
	       ((r = read(fd, b + n, SIGNER_KEY_FILE_MAX + 1 - n)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	close(fd);
	if (n > SIGNER_KEY_FILE_MAX) {
		explicit_bzero(b, n);
		free(b);
		return st_error_set(err, ST_ECONFIG, "%s: larger than %d "
				    "bytes: not an SSH private key", desc,
				    SIGNER_KEY_FILE_MAX);
	}
	*buf = b;
	*len = n;
	return ST_OK;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The first bytes of the OpenSSH key blob (base64 after the BEGIN line):
 * enough for the magic and the cipher name. */
static size_t blob_head(const char *k, size_t len, unsigned char *out,
			size_t cap)
{
	const char *p = memmem(k, len, OPENSSH_BEGIN, strlen(OPENSSH_BEGIN));
	const char *end = k + len;
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0, v;

	if (!p)
		return 0;
	for (p += strlen(OPENSSH_BEGIN); p < end && n < cap && *p != '-'; p++) {
		if ((v = b64val(*p)) < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/* ST_OK for an unencrypted OpenSSH private key; else why not. */
static int check_key(const char *k, size_t len, const char *desc,
		     struct st_error *err)
{
	static const char magic[] = "openssh-key-v1"; /* + NUL */
	unsigned char h[64];
	size_t n = blob_head(k, len, h, sizeof(h)), off = sizeof(magic);
	uint32_t cl;

	if (n < off + 4 || memcmp(h, magic, sizeof(magic)) != 0)
		return st_error_set(err, ST_ECONFIG, "%s: not an OpenSSH "
				    "private key (expected the OpenSSH format "
				    "ssh-keygen writes)", desc);
	cl = (uint32_t)h[off] << 24 | (uint32_t)h[off + 1] << 16 |
	     (uint32_t)h[off + 2] << 8 | h[off + 3];
	if (cl == 4 && n >= off + 8 && memcmp(h + off + 4, "none", 4) == 0)
		return ST_OK;
	return st_error_set(err, ST_ECONFIG, "%s: the key is protected by a "
			    "passphrase; semver-tagger never asks for one: "
			    "give the bot a key without a passphrase "
			    "(ssh-keygen -p -N '' -f KEY, then keep the file "
			    "readable by the service only)", desc);
}

/* A sealed, 0600, in-memory copy of the key at a descriptor >= 10. */
static int key_memfd(const char *k, size_t len, const char *desc,
		     struct st_error *err)
{
	int fd = memfd_create("semver-tagger-key", MFD_CLOEXEC |
			      MFD_ALLOW_SEALING), hi = -1;
	size_t off = 0;
	ssize_t w;

	while (fd >= 0 && off < len &&
	       ((w = write(fd, k + off, len - off)) > 0 ||
		(w < 0 && errno == EINTR)))
		if (w > 0)
			off += (size_t)w;
	/* ssh-keygen refuses a key file others could read */
	if (fd >= 0 && off == len && fchmod(fd, 0600) == 0 &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
		  F_SEAL_SHRINK | F_SEAL_SEAL) == 0)
		hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	if (fd >= 0)
		close(fd);
	if (hi < 0)
		return st_error_set(err, ST_EIO, "%s: cannot hold the key in "
				    "memory: %s", desc, strerror(errno));
	return hi;
}

int signer__ssh_open(struct signer *s, const struct signer_options *o,
		     struct st_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = ST_OK;

	snprintf(s->desc, sizeof(s->desc), "SSH key %.500s",
		 o->key_data ? (o->key_name ? o->key_name : "(given)")
			     : o->key_file ? o->key_file : "(none)");
	if (!o->key_data && !o->key_file)
		return st_error_set(err, ST_ECONFIG, "signing_format ssh needs "
				    "signing_key (the private key file) or "
				    "$CREDENTIALS_DIRECTORY/signing-key");
	s->keygen = strdup(o->ssh_keygen ? o->ssh_keygen : "ssh-keygen");
	if (!s->keygen)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	if (o->key_data) {
		if (o->key_len > SIGNER_KEY_FILE_MAX)
			return st_error_set(err, ST_ECONFIG, "%s: larger than "
					    "%d bytes", s->desc,
					    SIGNER_KEY_FILE_MAX);
		rc = check_key(o->key_data, o->key_len, s->desc, err);
		if (!rc && (s->key_fd = key_memfd(o->key_data, o->key_len,
						  s->desc, err)) < 0)
			rc = err->code;
		return rc;
	}
	rc = signer__read_file(o->key_file, &buf, &len, err, s->desc);
	if (!rc)
		rc = check_key(buf, len, s->desc, err);
	if (!rc && (s->key_fd = key_memfd(buf, len, s->desc, err)) < 0)
		rc = err->code;
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
	return rc;
}

void signer__ssh_close(struct signer *s)
{
	if (s->key_fd >= 0)
		close(s->key_fd);
	s->key_fd = -1;
	free(s->keygen);
	s->keygen = NULL;
}

/* The environment for ssh-keygen: ours without the agent and askpass,
 * so only the key given is used and nothing can prompt. */
static char **child_env(void)
{
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SSH_AUTH_SOCK=", 14) != 0 &&
		    strncmp(environ[i], "SSH_ASKPASS", 11) != 0 &&
		    strncmp(environ[i], "DISPLAY=", 8) != 0)
			env[j++] = environ[i];
	env[j++] = "SSH_ASKPASS_REQUIRE=never";
	return env;
}

/* Wait for pid at most timeout_ms (pidfd + poll), killing it after. */
static int wait_child(pid_t pid, int *status)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int r;

		while ((r = poll(&p, 1, SSH_SIGN_TIMEOUT_MS)) < 0 &&
		       errno == EINTR)
			;
		if (r == 0)
			kill(pid, SIGKILL);
		close(pfd);
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int memfd_text(int fd, struct strbuf *out, size_t max)
{
	char buf[4096];
	ssize_t r;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		if (r > 0 && (out->len + (size_t)r > max ||
			      strbuf_add(out, buf, (size_t)r)))
			return -1;
	return r < 0 ? -1 : 0;
}

static int spawn_keygen(struct signer *s, int in, int out, int errfd,
			pid_t *pid)
{
	char *argv[] = { s->keygen, "-Y", "sign", "-n", "git", "-f",
			 "/dev/fd/3", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char **env = child_env();
	int rc = -1;

	if (!env)
		return ENOMEM;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	posix_spawn_file_actions_adddup2(&fa, s->key_fd, KEY_FD);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	rc = posix_spawnp(pid, s->keygen, &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	return rc;
}

/* ssh-keygen's complaint, one line, bounded. */
static void first_line(const struct strbuf *b, char *out, size_t n)
{
	const char *t = strbuf_str(b);
	size_t i = 0;

	while (*t == '\n')
		t++;
	for (; t[i] && t[i] != '\n' && i + 1 < n; i++)
		out[i] = (unsigned char)t[i] < 0x20 ? ' ' : t[i];
	out[i] = '\0';
}

static int run_keygen(struct signer *s, int fds[3], struct strbuf *sig,
		      struct st_error *err)
{
	struct strbuf errtext;
	char why[300];
	pid_t pid;
	int status = 0, rc;

	rc = spawn_keygen(s, fds[0], fds[1], fds[2], &pid);
	if (rc)
		return st_error_set(err, ST_ECONFIG, "%s: cannot run %s: %s "
				    "(is openssh-client installed?)", s->desc,
				    s->keygen, strerror(rc));
	if (wait_child(pid, &status) != 0)
		return st_error_set(err, ST_EIO, "%s: waiting for %s: %s",
				    s->desc, s->keygen, strerror(errno));
	strbuf_init(&errtext, 4096);
	memfd_text(fds[2], &errtext, 4096);
	first_line(&errtext, why, sizeof(why));
	strbuf_release(&errtext);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return st_error_set(err, ST_ECONFIG, "%s: ssh-keygen -Y sign "
				    "failed (%s%s)", s->desc,
				    WIFEXITED(status) ? "" : "killed; ", why);
	if (memfd_text(fds[1], sig, SIGNER_SIG_MAX) != 0 ||
	    !strstr(strbuf_str(sig), "-----BEGIN SSH SIGNATURE-----"))
		return st_error_set(err, ST_EIO, "%s: ssh-keygen gave no "
				    "usable signature", s->desc);
	return ST_OK;
}

int signer__ssh_sign(struct signer *s, const char *payload, size_t len,
		     struct strbuf *sig, struct st_error *err)
{
	int fds[3] = { -1, -1, -1 }, rc = ST_OK;
	size_t off = 0;
	ssize_t w;

	for (int i = 0; i < 3; i++)
		fds[i] = memfd_create("semver-tagger-sign", MFD_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		rc = st_error_set(err, ST_EIO, "%s: memfd: %s", s->desc,
				  strerror(errno));
	while (!rc && off < len) {
		w = write(fds[0], payload + off, len - off);
		if (w < 0 && errno != EINTR)
			rc = st_error_set(err, ST_EIO, "%s: %s", s->desc,
					  strerror(errno));
		else if (w > 0)
			off += (size_t)w;
	}
	if (!rc && lseek(fds[0], 0, SEEK_SET) != 0)
		rc = st_error_set(err, ST_EIO, "%s: %s", s->desc,
				  strerror(errno));
	if (!rc)
		rc = run_keygen(s, fds, sig, err);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}
