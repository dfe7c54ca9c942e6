#!/usr/bin/perl
# Benchmark driver on Perl Gearman::Client / Gearman::Worker (Debian's libgearman-client-perl),
# speaking the driver protocol of bench/src/driver-protocol.ts: key=value arguments in, one JSON
# object per line out. The client keeps `inflight` tasks in one Gearman::Taskset, adding the next
# from each completion callback; background submits are synchronous in this library (each waits
# for JOB_CREATED). The worker has one connection: more are reported as unsupported.
# Foreground runs start with `warmup` jobs, checked alike (any lost, failed or wrong one is an
# error) and counted in no figure: the client measures after them, the worker restarts its CPU
# and first-job time after the warmup-th job.
use strict;
use warnings;
use Gearman::Client;
use Gearman::Worker;
use JSON::PP;
use Time::HiRes qw(time);

my %cfg = (role => 'client', host => '127.0.0.1', port => 4730, fn => 'echo', jobs => 1000,
  warmup => 0, size => 16, inflight => 1, mode => 'fg', payload => 'ascii', connections => 1,
  verify => 0);
for my $arg (@ARGV) {
  my ($key, $value) = split /=/, $arg, 2;
  $cfg{$key} = $value if defined $value;
}
$cfg{warmup} = 0 if $cfg{mode} eq 'bg'; # a background queue holds exactly the measured jobs
$| = 1;
my $json = JSON::PP->new->canonical;
my $server = "$cfg{host}:$cfg{port}";
my $INDEX_DIGITS = 10;

# The same payloads as drivers/lib/payload.ts, copied out of a precomputed cycle.
my $letters = join('', 'a' .. 'z') x (int($cfg{size} / 26) + 2);
my $bytes = join('', map { chr } 0 .. 255) x (int($cfg{size} / 256) + 2);

sub payload {
  my ($index) = @_;
  my $size = $cfg{size};
  return substr($bytes, $index & 255, $size) if $cfg{payload} eq 'bytes';
  return sprintf('%0*d', $INDEX_DIGITS, $index)
    . substr($letters, ($index + $INDEX_DIGITS) % 26, $size - $INDEX_DIGITS);
}

sub cpu_split {
  my ($user0, $system0) = @_;
  my ($user, $system) = times;
  return { user => ($user - $user0) * 1e6, system => ($system - $system0) * 1e6 };
}

# Runs jobs 0 .. $jobs - 1 and checks each result; returns the counts and latencies.
sub run_phase {
  my ($client, $jobs) = @_;
  my %phase = (ok => 0, wrong => 0, failed => 0, settled => 0, latency => []);
  my $next = 0;
  if ($cfg{mode} eq 'bg') {
    for my $i (0 .. $jobs - 1) {
      my $handle = $client->dispatch_background($cfg{fn}, \payload($i));
      if (defined $handle) { $phase{ok}++ } else { $phase{failed}++ }
    }
    $phase{settled} = $jobs;
  } else {
    my $taskset = $client->new_task_set;
    my $add;
    $add = sub {
      my $i = $next++;
      my $input = payload($i);
      my $started = time;
      my $settle = sub {
        $phase{latency}[$i] = (time - $started) * 1e6;
        $phase{settled}++;
        $add->() if $next < $jobs;
      };
      $taskset->add_task($cfg{fn}, \$input, {
        on_complete => sub {
          my $result = shift;
          if (defined $result && $$result eq $input) { $phase{ok}++ } else { $phase{wrong}++ }
          $settle->();
        },
        on_fail => sub { $phase{failed}++; $settle->() },
      });
    };
    $add->() while $next < $jobs && $next < $cfg{inflight};
    $taskset->wait(timeout => 60);
    undef $add; # the closure refers to itself
  }
  $phase{lost} = $jobs - $phase{settled};
  return \%phase;
}

sub run_client {
  my $client = Gearman::Client->new(job_servers => [$server]);
  my $jobs = $cfg{jobs};
  if ($cfg{warmup} > 0) {
    my $warm = run_phase($client, $cfg{warmup});
    if ($warm->{ok} != $cfg{warmup}) {
      my @problems = map { "$warm->{$_} $_" } grep { $warm->{$_} } qw(lost failed wrong);
      print $json->encode({ type => 'error',
        message => "warm-up: " . join(', ', @problems) . " of $cfg{warmup} jobs" }), "\n";
      exit 1;
    }
  }
  print $json->encode({ type => 'measuring' }), "\n";
  my ($user0, $system0) = times;
  my $t0 = time;
  my $phase = run_phase($client, $jobs);
  my $elapsed = (time - $t0) * 1000;
  my %report = (type => 'client', jobs => $jobs + 0, ok => $phase->{ok},
    wrong => $phase->{wrong}, failed => $phase->{failed}, lost => $phase->{lost},
    elapsedMs => $elapsed, cpuUs => cpu_split($user0, $system0));
  $report{latenciesUs} = [map { sprintf('%.1f', $_ // 0) + 0 } @{ $phase->{latency} }]
    if $cfg{mode} eq 'fg';
  print $json->encode(\%report), "\n";
  exit 0;
}

sub run_worker {
  if ($cfg{connections} > 1) {
    print $json->encode({ type => 'error', message => 'unsupported: more than 1 worker connection' }), "\n";
    exit 1;
  }
  my ($jobs, $warmup) = ($cfg{jobs}, $cfg{warmup});
  my $total = $warmup + $jobs;
  my ($handled, $wrong, $first, $last) = (0, 0, 0, 0);
  my %seen;
  my $worker = Gearman::Worker->new(job_servers => [$server]);
  $worker->register_function($cfg{fn} => sub {
    my $job = shift;
    $first ||= time;
    my $data = $job->arg;
    if ($cfg{verify}) {
      my $index = substr($data, 0, $INDEX_DIGITS);
      if ($index !~ /^\d+$/ || $index >= $jobs || $data ne payload($index + 0) || $seen{$index}++) {
        $wrong++;
      }
    }
    return $data;
  });
  my ($user0, $system0) = times;
  print $json->encode({ type => 'ready' }), "\n";
  $worker->work(
    on_complete => sub {
      $handled++;
      # The client submits no measured job before every warm-up result is back.
      if ($handled == $warmup) { ($user0, $system0) = times; $first = 0 }
      $last = time if $handled == $total;
    },
    stop_if => sub { $handled >= $total },
  );
  print $json->encode({ type => 'worker', jobs => $handled - $warmup, wrong => $wrong,
    elapsedMs => ($last - $first) * 1000, cpuUs => cpu_split($user0, $system0) }), "\n";
  1 while <STDIN>; # stay connected until the runner closes stdin
  exit 0;
}

$cfg{role} eq 'worker' ? run_worker() : run_client();
