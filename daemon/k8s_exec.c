/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Exec credential plugins, asynchronously: fork/exec with stdout on a pipe
 * and the child's exit on a pidfd, both served by the loop; a timer kills a
 * plugin that hangs. The answer is an ExecCredential (v1 or v1beta1).
 */
#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "k8s_exec.h"

struct k8s_exec {
	struct loop *loop;
	pid_t pid;
	int out_fd, pid_fd;
	struct loop_io *out_io, *pid_io;
	struct loop_timer *timer;
	char *buf;
	size_t len;
	bool eof, exited, too_big, timed_out;
	uint64_t deadline;
	int status;
	char *api_version;
	k8s_exec_done_fn done;
	void *ud;
};

void k8s_exec_credential_clear(struct k8s_exec_credential *c)
{
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	k8s_blob_clear(&c->cert);
	k8s_blob_clear(&c->key);
	*c = (struct k8s_exec_credential){0};
}

static int perr(char **ret_err, const char *msg)
{
	*ret_err = strdup(msg);
	return -EINVAL;
}

/* RFC 3339 "2006-01-02T15:04:05Z" (fractions and offsets accepted). */
static int parse_time(const char *s, int64_t *ret)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t off = 0;
	time_t t;

	if (!p)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
	} else if (strcmp(p, "Z") != 0) {
		return -EINVAL;
	}
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = (int64_t)t - off;
	return 0;
}

static int dup_blob(const char *s, struct k8s_blob *b)
{
	b->data = strdup(s);
	b->len = b->data ? strlen(s) : 0;
	return b->data ? 0 : -ENOMEM;
}

int k8s_exec_parse(const char *buf, size_t len, const char *api_version,
		   struct k8s_exec_credential *ret, char **ret_err)
{
	json_auto_t *root = NULL;
	json_error_t e;
	json_t *status;
	const char *av, *kind, *tok, *cert, *key, *exp;
	int r;

	*ret = (struct k8s_exec_credential){0};
	*ret_err = NULL;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (!root) {
		if (asprintf(ret_err, "invalid JSON at line %d: %s", e.line, e.text) < 0)
			*ret_err = NULL;
		return -EINVAL;
	}
	av = json_string_value(json_object_get(root, "apiVersion"));
	kind = json_string_value(json_object_get(root, "kind"));
	if (!kind || strcmp(kind, "ExecCredential") != 0)
		return perr(ret_err, "kind: not ExecCredential");
	if (!av || strcmp(av, api_version) != 0) {
		if (asprintf(ret_err, "apiVersion: \"%s\", expected \"%s\"", av ? av : "",
			     api_version) < 0)
			*ret_err = NULL;
		return -EINVAL;
	}
	status = json_object_get(root, "status");
	if (!json_is_object(status))
		return perr(ret_err, "status: missing");
	tok = json_string_value(json_object_get(status, "token"));
	cert = json_string_value(json_object_get(status, "clientCertificateData"));
	key = json_string_value(json_object_get(status, "clientKeyData"));
	exp = json_string_value(json_object_get(status, "expirationTimestamp"));
	if (tok && !tok[0])
		tok = NULL;
	if (cert && !cert[0])
		cert = NULL;
	if (key && !key[0])
		key = NULL;
	if (!!cert != !!key)
		return perr(ret_err, "status: clientCertificateData and clientKeyData go together");
	if (!tok && !cert)
		return perr(ret_err, "status: neither token nor clientCertificateData");
	if (exp && exp[0] && parse_time(exp, &ret->expiry) < 0)
		return perr(ret_err, "status.expirationTimestamp: not an RFC 3339 time");
	if (tok) {
		struct k8s_blob b;

		r = dup_blob(tok, &b);
		if (r < 0)
			return r;
		if (k8s_token_normalize(&b) < 0) {
			k8s_blob_clear(&b);
			return perr(ret_err, "status.token: not a valid token");
		}
		ret->token = b.data;
	}
	if (cert) {
		r = dup_blob(cert, &ret->cert);
		if (r >= 0)
			r = dup_blob(key, &ret->key);
		if (r < 0) {
			k8s_exec_credential_clear(ret);
			return r;
		}
	}
	return 0;
}

static void x_release(struct k8s_exec *x)
{
	loop_io_free(x->out_io);
	loop_io_free(x->pid_io);
	loop_timer_free(x->timer);
	x->out_io = x->pid_io = NULL;
	x->timer = NULL;
	if (x->out_fd >= 0)
		close(x->out_fd);
	if (x->pid_fd >= 0)
		close(x->pid_fd);
	x->out_fd = x->pid_fd = -1;
}

void k8s_exec_free(struct k8s_exec *x)
{
	if (!x)
		return;
	if (x->pid > 0 && !x->exited) {
		(void)kill(x->pid, SIGKILL);
		(void)waitpid(x->pid, NULL, 0); /* immediate after SIGKILL */
	}
	x_release(x);
	free(x->buf);
	free(x->api_version);
	free(x);
}

static void finish(struct k8s_exec *x)
{
	struct k8s_exec_credential cred = {0};
	_cleanup_free_ char *err = NULL;
	char msg[512];
	int r;

	if (!x->eof || !x->exited)
		return;
	x_release(x);
	if (x->timed_out) {
		r = -ETIMEDOUT;
		snprintf(msg, sizeof(msg), "killed after %llu s without an answer",
			 (unsigned long long)(K8S_EXEC_TIMEOUT_USEC / 1000000));
	} else if (x->too_big) {
		r = -E2BIG;
		snprintf(msg, sizeof(msg), "more than %u bytes on stdout", K8S_EXEC_MAX_OUTPUT);
	} else if (WIFEXITED(x->status) && WEXITSTATUS(x->status) != 0) {
		r = -EIO;
		snprintf(msg, sizeof(msg), "exited with status %d", WEXITSTATUS(x->status));
	} else if (WIFSIGNALED(x->status)) {
		r = -EIO;
		snprintf(msg, sizeof(msg), "killed by signal %d", WTERMSIG(x->status));
	} else {
		r = k8s_exec_parse(x->buf ? x->buf : "", x->len, x->api_version, &cred, &err);
		snprintf(msg, sizeof(msg), "ExecCredential: %s", err ? err : "out of memory");
	}
	if (x->buf)
		explicit_bzero(x->buf, x->len);
	x->done(x->ud, r, r < 0 ? NULL : &cred, r < 0 ? msg : NULL);
	k8s_exec_credential_clear(&cred);
}

static void on_out(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct k8s_exec *x = ud;
	char tmp[16384];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			x->eof = true;
			loop_io_free(x->out_io);
			x->out_io = NULL;
			finish(x);
			return;
		}
		if (x->len + (size_t)n > K8S_EXEC_MAX_OUTPUT) {
			x->too_big = true;
			continue; /* drain, then fail */
		}
		{
			char *b = realloc(x->buf, x->len + (size_t)n + 1);

			if (!b) {
				x->too_big = true;
				continue;
			}
			memcpy(b + x->len, tmp, (size_t)n);
			x->len += (size_t)n;
			b[x->len] = '\0';
			x->buf = b;
		}
	}
}

static void reap(struct k8s_exec *x)
{
	if (waitpid(x->pid, &x->status, WNOHANG) == x->pid) {
		x->exited = true;
		loop_io_free(x->pid_io);
		x->pid_io = NULL;
		finish(x);
	}
}

static void on_pid(struct loop *l, int fd, uint32_t events, void *ud)
{
	reap(ud);
}

static void on_timeout(struct loop *l, void *ud)
{
	struct k8s_exec *x = ud;

	if (!x->timed_out && loop_now_usec() >= x->deadline) {
		x->timed_out = true;
		(void)kill(x->pid, SIGKILL);
	}
	/* without a pidfd (or after the kill) the exit is polled; reap may free x */
	loop_timer_arm(x->timer, 100000);
	reap(x);
}

static int spawn(struct k8s_exec *x, const struct k8s_exec_config *cfg, const char *server,
		 int out_w)
{
	_cleanup_free_ char *info = NULL;
	pid_t pid;

	if (asprintf(&info,
		     "{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false%s%s%s}}",
		     cfg->api_version, cfg->provide_cluster_info ? ",\"cluster\":{\"server\":\"" : "",
		     cfg->provide_cluster_info ? server : "", cfg->provide_cluster_info ? "\"}" : "") < 0)
		return -ENOMEM;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0)
			_exit(127);
		for (size_t i = 0; i < cfg->n_env; i++)
			putenv(cfg->env[i]);
		setenv("KUBERNETES_EXEC_INFO", info, 1);
		execvp(cfg->command, cfg->argv);
		_exit(127);
	}
	x->pid = pid;
	return 0;
}

int k8s_exec_run(struct loop *l, const struct k8s_exec_config *cfg, const char *server,
		 k8s_exec_done_fn done, void *ud, struct k8s_exec **ret)
{
	struct k8s_exec *x;
	int p[2], r;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->loop = l;
	x->out_fd = x->pid_fd = -1;
	x->done = done;
	x->ud = ud;
	x->api_version = strdup(cfg->api_version);
	if (!x->api_version) {
		k8s_exec_free(x);
		return -ENOMEM;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		k8s_exec_free(x);
		return r;
	}
	r = spawn(x, cfg, server, p[1]);
	close(p[1]);
	x->out_fd = p[0];
	if (r < 0) {
		k8s_exec_free(x);
		return r;
	}
	(void)fcntl(x->out_fd, F_SETFL, O_NONBLOCK);
	x->pid_fd = (int)syscall(SYS_pidfd_open, x->pid, 0);
	r = loop_io_add(l, x->out_fd, EPOLLIN, on_out, x, &x->out_io);
	if (r >= 0 && x->pid_fd >= 0)
		r = loop_io_add(l, x->pid_fd, EPOLLIN, on_pid, x, &x->pid_io);
	if (r >= 0)
		r = loop_timer_new(l, on_timeout, x, &x->timer);
	if (r < 0) {
		k8s_exec_free(x);
		return r;
	}
	x->deadline = loop_now_usec() + K8S_EXEC_TIMEOUT_USEC;
	loop_timer_arm(x->timer, x->pid_fd >= 0 ? K8S_EXEC_TIMEOUT_USEC : 100000);
	*ret = x;
	return 0;
}
