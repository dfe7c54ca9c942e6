<?php
// A Gearman client on PHP's gearman extension (libgearman), driven by the interop tests.
//
//   php client.php --host=H --port=P --function=F [--mode=task|do|background|status]
//                  [--priority=high|normal|low] [--unique=U] [--payload=S | --payload-file=PATH]
//                  [--handle=H] [--timeout=MS]
//
// Modes:
//   task        addTask*() + runTasks() with every callback (default): created, status, data,
//               warning, then complete, fail or exception.
//   do          the blocking doNormal()/doHigh()/doLow(); reports the result and returnCode().
//   background  doBackground()/doHighBackground()/doLowBackground(); reports the handle.
//   status      jobStatus(--handle).
//
// libgearman asks the server for exceptions (OPTION_REQ "exceptions") on every connection by
// itself, so WORK_EXCEPTION always reaches the exception callback.
//
// Output: one JSON object per line on stdout. Binary fields (payloads, results, chunks) are
// base64 in "data"; `{"event":"exit"}` is always the last line of a run that did not crash.

$opts = getopt('', [
    'host:', 'port:', 'function:', 'mode:', 'priority:', 'unique:', 'payload:', 'payload-file:',
    'handle:', 'timeout:',
]);

function emit(array $event): void
{
    echo json_encode($event, JSON_UNESCAPED_SLASHES), "\n";
    flush();
}

function task_event(string $event, GearmanTask $task, array $extra = []): void
{
    emit(['event' => $event, 'handle' => $task->jobHandle()] + $extra);
}

$host = $opts['host'] ?? '127.0.0.1';
$port = (int) ($opts['port'] ?? 4730);
$function = $opts['function'] ?? '';
$mode = $opts['mode'] ?? 'task';
$priority = $opts['priority'] ?? 'normal';
$unique = $opts['unique'] ?? null;
$payload = isset($opts['payload-file'])
    ? file_get_contents($opts['payload-file'])
    : ($opts['payload'] ?? '');

$client = new GearmanClient();
$client->addServer($host, $port);
if (isset($opts['timeout'])) {
    $client->setTimeout((int) $opts['timeout']);
}

switch ($mode) {
    case 'task':
        $client->setCreatedCallback(function (GearmanTask $task) {
            task_event('created', $task, ['unique' => $task->unique()]);
        });
        $client->setStatusCallback(function (GearmanTask $task) {
            task_event('status', $task, [
                'numerator' => $task->taskNumerator(),
                'denominator' => $task->taskDenominator(),
            ]);
        });
        $client->setDataCallback(function (GearmanTask $task) {
            task_event('data', $task, ['data' => base64_encode($task->data())]);
        });
        $client->setWarningCallback(function (GearmanTask $task) {
            task_event('warning', $task, ['data' => base64_encode($task->data())]);
        });
        $client->setCompleteCallback(function (GearmanTask $task) {
            task_event('complete', $task, ['data' => base64_encode($task->data())]);
        });
        $client->setFailCallback(function (GearmanTask $task) {
            task_event('fail', $task);
        });
        $client->setExceptionCallback(function (GearmanTask $task) {
            task_event('exception', $task, ['data' => base64_encode($task->data())]);
        });
        $add = ['high' => 'addTaskHigh', 'normal' => 'addTask', 'low' => 'addTaskLow'][$priority];
        $client->$add($function, $payload, null, $unique);
        $ok = $client->runTasks();
        emit(['event' => 'finished', 'ok' => $ok, 'returnCode' => $client->returnCode(),
            'error' => $client->error()]);
        break;

    case 'do':
        $do = ['high' => 'doHigh', 'normal' => 'doNormal', 'low' => 'doLow'][$priority];
        $result = $client->$do($function, $payload, $unique);
        emit(['event' => 'result', 'data' => base64_encode((string) $result),
            'returnCode' => $client->returnCode(), 'error' => $client->error()]);
        break;

    case 'background':
        $do = ['high' => 'doHighBackground', 'normal' => 'doBackground',
            'low' => 'doLowBackground'][$priority];
        $handle = $client->$do($function, $payload, $unique);
        emit(['event' => 'created', 'handle' => $handle, 'returnCode' => $client->returnCode()]);
        break;

    case 'status':
        [$known, $running, $numerator, $denominator] = $client->jobStatus($opts['handle'] ?? '');
        emit(['event' => 'status', 'known' => $known, 'running' => $running,
            'numerator' => $numerator, 'denominator' => $denominator]);
        break;

    default:
        fwrite(STDERR, "unknown mode $mode\n");
        exit(2);
}
emit(['event' => 'exit']);
