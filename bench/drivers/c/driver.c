/*
 * Benchmark driver on libgearman (Debian's libgearman-dev), speaking the driver protocol of
 * bench/src/driver-protocol.ts: key=value arguments in, one JSON object per line out.
 *
 *   driver role=client host=H port=P fn=F jobs=N warmup=W size=S inflight=K mode=fg|bg payload=...
 *   driver role=worker host=H port=P fn=F jobs=N warmup=W size=S connections=C verify=0|1 ...
 *
 * The client keeps `inflight` tasks queued with gearman_client_add_task() and adds the next
 * one from the completion callback; with inflight=1 it calls gearman_client_do() per job. It
 * runs `warmup` jobs that way first (any lost, failed or wrong one is an error), then the
 * measured `jobs`. The worker runs one gearman_worker_st per connection, each on its own
 * thread; its CPU and first-job time start again after the `warmup`-th job.
 *
 * libgearman caps every socket's SO_SNDBUF and SO_RCVBUF at 32 KiB (GEARMAN_DEFAULT_SOCKET_*_SIZE,
 * with no API to change it), which holds scenario D to a few MB/s. The setsockopt() below
 * interposes on libgearman's calls and drops those two options, leaving the kernel's
 * autotuned buffers: the "socket buffers uncapped" of issue 9.
 *
 * Built by the runner: gcc -O2 -o driver driver.c -lgearman -lpthread -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgearman/gearman.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define INDEX_DIGITS 10 /* payloads start with the job index, zero-padded (see payload.ts) */

static const char *host = "127.0.0.1";
static int port = 4730;
static const char *fn = "echo";
static long jobs = 1000;
static long warmup = 0; /* foreground only: forced to 0 with mode=bg */
static long size = 16;
static long inflight = 1;
static long connections = 1;
static int background = 0;
static int bytes_payload = 0;
static int verify = 0;

int setsockopt(int fd, int level, int name, const void *value, socklen_t length) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (real == NULL) real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
  if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF)) return 0;
  return real(fd, level, name, value, length);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_us(int which_user) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  struct timeval tv = which_user ? ru.ru_utime : ru.ru_stime;
  return tv.tv_sec * 1e6 + tv.tv_usec;
}

/* The same payloads as drivers/lib/payload.ts: ASCII (so that text-only peers can echo them)
   or, for scenario X, every byte value; copied out of a precomputed cycle. */
static char *letter_cycle, *byte_cycle;

static void fill_payload(char *out, long index, long length) {
  if (letter_cycle == NULL) {
    letter_cycle = malloc(length + 26);
    byte_cycle = malloc(length + 256);
    for (long k = 0; k < length + 26; k++) letter_cycle[k] = (char)('a' + k % 26);
    for (long k = 0; k < length + 256; k++) byte_cycle[k] = (char)(k & 255);
  }
  if (bytes_payload) {
    memcpy(out, byte_cycle + (index & 255), length);
    return;
  }
  char digits[INDEX_DIGITS + 1];
  snprintf(digits, sizeof digits, "%0*ld", INDEX_DIGITS, index);
  long head = length < INDEX_DIGITS ? length : INDEX_DIGITS;
  memcpy(out, digits, head);
  memcpy(out + head, letter_cycle + (index + INDEX_DIGITS) % 26, length - head);
}

static void fail(const char *what, const char *detail) {
  printf("{\"type\":\"error\",\"message\":\"%s: %s\"}\n", what, detail ? detail : "");
  fflush(stdout);
  exit(1);
}

/* ---------- client ---------- */

static gearman_client_st client;
/* One phase (warm-up or measured) of `phase_jobs` jobs; run_phase() resets the counters. */
static long phase_jobs = 0, next_job = 0, settled = 0, ok = 0, wrong = 0, failed = 0;
static double *started, *latency_us;
static char **payloads;

static void add_next(void) {
  long i = next_job++;
  payloads[i] = malloc(size);
  fill_payload(payloads[i], i, size);
  started[i] = now_ms();
  gearman_return_t ret;
  void *context = (void *)(intptr_t)i;
  if (background)
    gearman_client_add_task_background(&client, NULL, context, fn, NULL, payloads[i], size, &ret);
  else
    gearman_client_add_task(&client, NULL, context, fn, NULL, payloads[i], size, &ret);
  if (ret != GEARMAN_SUCCESS) fail("add_task", gearman_client_error(&client));
}

static void settle(gearman_task_st *task, int result_ok) {
  long i = (long)(intptr_t)gearman_task_context(task);
  latency_us[i] = (now_ms() - started[i]) * 1e3;
  if (result_ok) ok++;
  free(payloads[i]);
  payloads[i] = NULL;
  settled++;
  if (next_job < phase_jobs) add_next();
}

static gearman_return_t on_complete(gearman_task_st *task) {
  if (background) return GEARMAN_SUCCESS;
  long i = (long)(intptr_t)gearman_task_context(task);
  gearman_result_st *result = gearman_task_result(task);
  const char *value = result ? gearman_result_value(result) : gearman_task_data(task);
  size_t length = result ? gearman_result_size(result) : gearman_task_data_size(task);
  int same = (long)length == size && value != NULL && memcmp(value, payloads[i], size) == 0;
  if (!same) wrong++;
  settle(task, same);
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_created(gearman_task_st *task) {
  if (background) settle(task, 1);
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *task) {
  failed++;
  settle(task, 0);
  return GEARMAN_SUCCESS;
}

static void print_latencies(void) {
  printf(",\"latenciesUs\":[");
  for (long i = 0; i < jobs; i++) printf(i ? ",%.1f" : "%.1f", latency_us[i]);
  printf("]");
}

/* Runs jobs 0..count-1 and checks each result; latency_us[i] gets job i's latency. */
static void run_phase(long count) {
  phase_jobs = count;
  next_job = settled = ok = wrong = failed = 0;
  if (inflight <= 1 && !background) {
    char *payload = malloc(size);
    for (long i = 0; i < count; i++) {
      fill_payload(payload, i, size);
      double t = now_ms();
      size_t length = 0;
      gearman_return_t ret;
      void *result = gearman_client_do(&client, fn, NULL, payload, size, &length, &ret);
      latency_us[i] = (now_ms() - t) * 1e3;
      if (ret != GEARMAN_SUCCESS) failed++;
      else if ((long)length == size && memcmp(result, payload, size) == 0) ok++;
      else wrong++;
      free(result);
    }
    free(payload);
    settled = count;
  } else {
    while (next_job < count && next_job < inflight) add_next();
    while (settled < count) {
      gearman_return_t ret = gearman_client_run_tasks(&client);
      if (ret != GEARMAN_SUCCESS) fail("run_tasks", gearman_client_error(&client));
      if (settled < count && next_job >= count) break; /* nothing left to run: jobs were lost */
    }
  }
}

static int run_client(void) {
  if (gearman_client_create(&client) == NULL) fail("gearman_client_create", "");
  if (gearman_client_add_server(&client, host, port) != GEARMAN_SUCCESS)
    fail("add_server", gearman_client_error(&client));
  gearman_client_add_options(&client, GEARMAN_CLIENT_FREE_TASKS);
  gearman_client_set_complete_fn(&client, on_complete);
  gearman_client_set_created_fn(&client, on_created);
  gearman_client_set_fail_fn(&client, on_fail);
  gearman_client_set_exception_fn(&client, on_fail);
  long slots = jobs > warmup ? jobs : warmup;
  started = calloc(slots, sizeof *started);
  latency_us = calloc(slots, sizeof *latency_us);
  payloads = calloc(slots, sizeof *payloads);

  if (warmup > 0) {
    run_phase(warmup);
    if (ok != warmup) {
      char detail[128];
      snprintf(detail, sizeof detail, "%ld lost, %ld failed, %ld wrong of %ld jobs",
               warmup - settled, failed, wrong, warmup);
      fail("warm-up", detail);
    }
  }
  printf("{\"type\":\"measuring\"}\n");
  fflush(stdout);
  double user0 = cpu_us(1), system0 = cpu_us(0), t0 = now_ms();
  run_phase(jobs);
  double elapsed = now_ms() - t0;
  printf("{\"type\":\"client\",\"jobs\":%ld,\"ok\":%ld,\"wrong\":%ld,\"failed\":%ld,"
         "\"lost\":%ld,\"elapsedMs\":%.3f,\"cpuUs\":{\"user\":%.0f,\"system\":%.0f}",
         jobs, ok, wrong, failed, jobs - settled, elapsed, cpu_us(1) - user0, cpu_us(0) - system0);
  if (!background) print_latencies();
  printf("}\n");
  fflush(stdout);
  gearman_client_free(&client);
  return 0;
}

/* ---------- worker ---------- */

static long handled = 0, worker_wrong = 0;
static unsigned char *seen;
static double first_job_ms = 0, last_job_ms = 0;
/* CPU at the start of the measured jobs: at "ready", then again after the warm-up's last job. */
static double worker_user0, worker_system0;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;

static void check_payload(const char *data, size_t length) {
  char digits[INDEX_DIGITS + 1] = {0};
  if (length < INDEX_DIGITS) {
    __atomic_add_fetch(&worker_wrong, 1, __ATOMIC_RELAXED);
    return;
  }
  memcpy(digits, data, INDEX_DIGITS);
  long index = strtol(digits, NULL, 10);
  char *expected = malloc(size);
  fill_payload(expected, index, size);
  int bad = index < 0 || index >= jobs || (long)length != size || memcmp(expected, data, size) != 0 ||
            __atomic_exchange_n(&seen[index], 1, __ATOMIC_RELAXED) != 0;
  free(expected);
  if (bad) __atomic_add_fetch(&worker_wrong, 1, __ATOMIC_RELAXED);
}

static gearman_return_t echo(gearman_job_st *job, void *context) {
  (void)context;
  double zero = 0, t = now_ms();
  __atomic_compare_exchange(&first_job_ms, &zero, &t, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  const char *data = gearman_job_workload(job);
  size_t length = gearman_job_workload_size(job);
  if (verify) check_payload(data, length);
  gearman_return_t ret = gearman_job_send_complete(job, data, length);
  long count = __atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);
  if (count == warmup) {
    /* The client submits no measured job before every warm-up result is back. getrusage()
       is process-wide; the lock orders these writes before the report's reads. */
    pthread_mutex_lock(&done_lock);
    worker_user0 = cpu_us(1);
    worker_system0 = cpu_us(0);
    double zero_ms = 0;
    __atomic_store(&first_job_ms, &zero_ms, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&done_lock);
  }
  if (count == warmup + jobs) {
    pthread_mutex_lock(&done_lock);
    last_job_ms = now_ms();
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&done_lock);
  }
  return ret;
}

static void *work_loop(void *arg) {
  gearman_worker_st *worker = arg;
  for (;;) {
    gearman_return_t ret = gearman_worker_work(worker);
    if (ret != GEARMAN_SUCCESS && ret != GEARMAN_TIMEOUT) fail("work", gearman_worker_error(worker));
  }
  return NULL;
}

static int run_worker(void) {
  seen = calloc(jobs, 1);
  gearman_worker_st *workers = calloc(connections, sizeof *workers);
  for (long c = 0; c < connections; c++) {
    gearman_worker_st *w = &workers[c];
    if (gearman_worker_create(w) == NULL) fail("gearman_worker_create", "");
    if (gearman_worker_add_server(w, host, port) != GEARMAN_SUCCESS)
      fail("add_server", gearman_worker_error(w));
    gearman_function_t function = gearman_function_create(echo);
    if (gearman_worker_define_function(w, fn, strlen(fn), function, 0, NULL) != GEARMAN_SUCCESS)
      fail("define_function", gearman_worker_error(w));
    /* ECHO_REQ opens the connection now, so that "ready" means connected. */
    if (gearman_worker_echo(w, "ready", 5) != GEARMAN_SUCCESS) fail("echo", gearman_worker_error(w));
  }
  worker_user0 = cpu_us(1);
  worker_system0 = cpu_us(0);
  printf("{\"type\":\"ready\"}\n");
  fflush(stdout);
  for (long c = 0; c < connections; c++) {
    pthread_t thread;
    pthread_create(&thread, NULL, work_loop, &workers[c]);
  }
  pthread_mutex_lock(&done_lock);
  while (last_job_ms == 0) pthread_cond_wait(&done_cond, &done_lock);
  pthread_mutex_unlock(&done_lock);
  printf("{\"type\":\"worker\",\"jobs\":%ld,\"wrong\":%ld,\"elapsedMs\":%.3f,"
         "\"cpuUs\":{\"user\":%.0f,\"system\":%.0f}}\n",
         jobs, worker_wrong, last_job_ms - first_job_ms, cpu_us(1) - worker_user0,
         cpu_us(0) - worker_system0);
  fflush(stdout);
  /* Stay connected until the runner closes stdin, then exit without tearing down the threads. */
  char buffer[256];
  while (read(0, buffer, sizeof buffer) > 0) {
  }
  _exit(0);
}

int main(int argc, char **argv) {
  const char *role = "client";
  for (int i = 1; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (eq == NULL) continue;
    *eq = '\0';
    const char *key = argv[i], *value = eq + 1;
    if (!strcmp(key, "role")) role = value;
    else if (!strcmp(key, "host")) host = value;
    else if (!strcmp(key, "port")) port = atoi(value);
    else if (!strcmp(key, "fn")) fn = value;
    else if (!strcmp(key, "jobs")) jobs = atol(value);
    else if (!strcmp(key, "warmup")) warmup = atol(value);
    else if (!strcmp(key, "size")) size = atol(value);
    else if (!strcmp(key, "inflight")) inflight = atol(value);
    else if (!strcmp(key, "connections")) connections = atol(value);
    else if (!strcmp(key, "mode")) background = !strcmp(value, "bg");
    else if (!strcmp(key, "payload")) bytes_payload = !strcmp(value, "bytes");
    else if (!strcmp(key, "verify")) verify = !strcmp(value, "1");
  }
  if (background) warmup = 0; /* a background queue holds exactly the measured jobs */
  return !strcmp(role, "worker") ? run_worker() : run_client();
}
