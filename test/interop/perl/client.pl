#!/usr/bin/perl
# A Gearman client on Perl's Gearman::Client (libgearman-client-perl), driven by the interop tests.
#
#   perl client.pl --host=H --port=P --function=F [--mode=task|background|status]
#                  [--priority=high|normal|low] [--unique=U] [--payload=S | --payload-file=PATH]
#                  [--exceptions] [--handle=H] [--timeout=SECONDS]
#
# Modes:
#   task        a Gearman::Task in a task set with every callback (default): status, data,
#               warning, then complete, fail or exception; "finished" once the set is done.
#   background  dispatch_background(); reports the handle ("host:port//H:...").
#   status      get_status(--handle), the handle as dispatch_background returned it.
#
# Output: one JSON object per line on stdout. Binary fields (results, chunks) are base64 in
# "data". An exception thrown by the library is caught and reported as {"event":"died"}.
# {"event":"exit"} is always the last line.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Gearman::Client;
use Gearman::Task;

$| = 1;

my %opt = (host => '127.0.0.1', port => 4730, mode => 'task', priority => 'normal');
GetOptions(\%opt, 'host=s', 'port=i', 'function=s', 'mode=s', 'priority=s', 'unique=s',
    'payload=s', 'payload-file=s', 'exceptions', 'handle=s', 'timeout=f')
    or die "bad arguments\n";

my $json = JSON::PP->new->canonical;
sub emit { print $json->encode({@_}), "\n" }
sub b64 { encode_base64(defined $_[0] ? $_[0] : '', '') }

my $payload = $opt{payload} // '';
if (defined $opt{'payload-file'}) {
    open my $fh, '<:raw', $opt{'payload-file'} or die "$opt{'payload-file'}: $!\n";
    local $/;
    $payload = <$fh>;
    $payload //= '';
}

my $client = Gearman::Client->new(
    job_servers => ["$opt{host}:$opt{port}"],
    exceptions  => $opt{exceptions} ? 1 : 0,
);

my %task_options = (priority => $opt{priority});
$task_options{uniq} = $opt{unique} if defined $opt{unique};

my $ok = eval {
    if ($opt{mode} eq 'task') {
        my $task;
        $task = Gearman::Task->new($opt{function}, \$payload, {
            %task_options,
            on_status => sub { emit(event => 'status', numerator => $_[0], denominator => $_[1]) },
            on_data => sub { emit(event => 'data', data => b64(${ $_[0] })) },
            on_warning => sub { emit(event => 'warning', data => b64(${ $_[0] })) },
            on_complete => sub { emit(event => 'complete', data => b64(${ $_[0] })) },
            on_fail => sub { emit(event => 'fail', reason => $_[0]) },
            on_exception => sub { emit(event => 'exception', data => b64($_[0])) },
            defined $opt{timeout} ? (timeout => $opt{timeout}) : (),
        });
        my $set = $client->new_task_set;
        my $handle = $set->add_task($task);
        emit(event => 'created', handle => $handle);
        $set->wait(defined $opt{timeout} ? (timeout => $opt{timeout}) : ());
        emit(event => 'finished', handle => $task->handle);
    }
    elsif ($opt{mode} eq 'background') {
        my $handle = $client->dispatch_background($opt{function}, \$payload, \%task_options);
        emit(event => 'created', handle => $handle);
    }
    elsif ($opt{mode} eq 'status') {
        my $status = $client->get_status($opt{handle});
        my $progress = $status ? $status->progress : undef;
        emit(
            event => 'status',
            known => $status && $status->known ? JSON::PP::true : JSON::PP::false,
            running => $status && $status->running ? JSON::PP::true : JSON::PP::false,
            numerator => $progress ? $progress->[0] : undef,
            denominator => $progress ? $progress->[1] : undef,
        );
    }
    else {
        die "unknown mode $opt{mode}\n";
    }
    1;
};
emit(event => 'died', error => "$@") unless $ok;
emit(event => 'exit');
