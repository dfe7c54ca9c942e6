#!/usr/bin/perl
# A Gearman worker on Perl's Gearman::Worker (libgearman-client-perl), driven by the interop tests.
#
#   perl worker.pl --host=H --port=P --function=F [--mode=M] [--count=N] [--delay=MS] [--tag=T]
#
# Modes (what each job does with its payload):
#   echo       return the payload (default)
#   reverse    return the payload reversed
#   tag        return "<tag>:<payload>" after --delay ms
#   progress   status 1/3, data "chunk-1", status 2/3, warning "careful", data "chunk-2",
#              status 3/3, then return "done:<payload>"
#   status     status 1/2, status 2/2, then return "done:<payload>" (progress without WORK_DATA
#              and WORK_WARNING, which Gearman::Server refuses)
#   fail       return undef, which Gearman::Worker reports as WORK_FAIL
#   exception  send_work_exception("perl exception: <payload>")
#   die        die "perl died: <payload>"; Gearman::Worker reports it (see the tests)
#   kill       status 1/2, then the process SIGKILLs itself while it holds the job
#
# --count makes the worker exit after N jobs; otherwise it runs until it is killed.
# Output: one JSON object per line on stdout; payloads are base64 in "data".
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Time::HiRes ();
use Gearman::Worker;

$| = 1;

my %opt = (host => '127.0.0.1', port => 4730, mode => 'echo', count => -1, delay => 0,
    tag => 'perl');
GetOptions(\%opt, 'host=s', 'port=i', 'function=s', 'mode=s', 'count=i', 'delay=i', 'tag=s')
    or die "bad arguments\n";

my $json = JSON::PP->new->canonical;
sub emit { print $json->encode({@_}), "\n" }

my $worker = Gearman::Worker->new(job_servers => ["$opt{host}:$opt{port}"]);
my $mode = $opt{mode};

my %modes = (
    echo => sub { $_[0]->arg },
    reverse => sub { scalar reverse $_[0]->arg },
    tag => sub {
        Time::HiRes::sleep($opt{delay} / 1000);
        "$opt{tag}:" . $_[0]->arg;
    },
    progress => sub {
        my ($job) = @_;
        $job->set_status(1, 3);
        $worker->send_work_data($job, 'chunk-1');
        $job->set_status(2, 3);
        $worker->send_work_warning($job, 'careful');
        $worker->send_work_data($job, 'chunk-2');
        $job->set_status(3, 3);
        'done:' . $job->arg;
    },
    status => sub {
        my ($job) = @_;
        $job->set_status(1, 2);
        $job->set_status(2, 2);
        'done:' . $job->arg;
    },
    fail => sub { undef },
    exception => sub {
        my ($job) = @_;
        $worker->send_work_exception($job, 'perl exception: ' . $job->arg);
        undef;
    },
    die => sub { die 'perl died: ' . $_[0]->arg . "\n" },
    kill => sub {
        my ($job) = @_;
        $job->set_status(1, 2);
        emit(event => 'dying', handle => $job->handle);
        kill 'KILL', $$;
        sleep 60;    # not reached
    },
);
my $handler = $modes{$mode} or die "unknown mode $mode\n";

my $done = 0;
$worker->register_function($opt{function} => sub {
    my ($job) = @_;
    emit(event => 'job', handle => $job->handle, function => $opt{function},
        data => encode_base64($job->arg, ''));
    return $handler->($job);
}) or die "could not register $opt{function}\n";

emit(event => 'ready', pid => $$);
$worker->work(
    on_complete => sub { $done++ },
    on_fail => sub { $done++ },
    stop_if => sub { $opt{count} >= 0 && $done >= $opt{count} },
);
emit(event => 'exit');
