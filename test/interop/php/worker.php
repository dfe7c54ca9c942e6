<?php
// A Gearman worker on PHP's gearman extension (libgearman), driven by the interop tests.
//
//   php worker.php --host=H --port=P --function=F [--mode=M] [--count=N] [--delay=MS] [--tag=T]
//
// Modes (what each job does with its payload):
//   echo       complete with the payload (default)
//   reverse    complete with the payload reversed
//   tag        complete with "<tag>:<payload>" after --delay ms, so a test can tell workers apart
//   progress   status 1/3, data "chunk-1", status 2/3, warning "careful", data "chunk-2",
//              status 3/3, then complete with "done:<payload>"
//   fail       sendFail()
//   exception  sendException("php exception: <payload>")
//   die        status 1/2, then the process SIGKILLs itself while it holds the job (a crash)
//   exit       status 1/2, then exit(3) inside the callback; the extension still reports
//              the job, as WORK_EXCEPTION "Unable to add worker function", on its way out
//
// --count makes the worker exit after N jobs; otherwise it runs until it is killed.
// Output: one JSON object per line on stdout; payloads are base64 in "data".

$opts = getopt('', ['host:', 'port:', 'function:', 'mode:', 'count:', 'delay:', 'tag:']);

function emit(array $event): void
{
    echo json_encode($event, JSON_UNESCAPED_SLASHES), "\n";
    flush();
}

$mode = $opts['mode'] ?? 'echo';
$delay = (int) ($opts['delay'] ?? 0);
$tag = $opts['tag'] ?? 'php';
$count = isset($opts['count']) ? (int) $opts['count'] : -1;

$worker = new GearmanWorker();
$worker->addServer($opts['host'] ?? '127.0.0.1', (int) ($opts['port'] ?? 4730));
$worker->addFunction($opts['function'] ?? '', function (GearmanJob $job) use ($mode, $delay, $tag) {
    $payload = $job->workload();
    emit(['event' => 'job', 'handle' => $job->handle(), 'function' => $job->functionName(),
        'unique' => $job->unique(), 'data' => base64_encode($payload)]);
    switch ($mode) {
        case 'echo':
            return $payload;
        case 'reverse':
            return strrev($payload);
        case 'tag':
            usleep($delay * 1000);
            return "$tag:$payload";
        case 'progress':
            $job->sendStatus(1, 3);
            $job->sendData('chunk-1');
            $job->sendStatus(2, 3);
            $job->sendWarning('careful');
            $job->sendData('chunk-2');
            $job->sendStatus(3, 3);
            return "done:$payload";
        case 'fail':
            $job->sendFail();
            return null;
        case 'exception':
            $job->sendException("php exception: $payload");
            return null;
        case 'die':
            $job->sendStatus(1, 2);
            emit(['event' => 'dying', 'handle' => $job->handle()]);
            posix_kill(getmypid(), SIGKILL);
            sleep(60); // not reached
            return null;
        case 'exit':
            $job->sendStatus(1, 2);
            emit(['event' => 'exiting', 'handle' => $job->handle()]);
            exit(3);
        default:
            fwrite(STDERR, "unknown mode $mode\n");
            exit(2);
    }
});

emit(['event' => 'ready', 'pid' => getmypid()]);
for ($done = 0; $count < 0 || $done < $count; $done++) {
    if (!$worker->work()) {
        emit(['event' => 'error', 'returnCode' => $worker->returnCode(), 'error' => $worker->error()]);
        exit(1);
    }
}
emit(['event' => 'exit']);
