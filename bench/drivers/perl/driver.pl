#!/usr/bin/perl
# Benchmark driver on Perl Gearman::Client / Gearman::Worker (Debian's libgearman-client-perl),
# speaking the driver protocol of bench/src/driver-protocol.ts: key=value arguments in, one JSON
# object per line out. The client keeps `inflight` tasks in one Gearman::Taskset, adding the next
# from each completion callback; background submits are synchronous in this library (each waits
# for JOB_CREATED). The worker has one connection: more are reported as unsupported.
use strict;
use warnings;
use Gearman::Client;
use Gearman::Worker;
use JSON::PP;
use Time::HiRes qw(time);

my %cfg = (role => 'client', host => '127.0.0.1', port => 4730, fn => 'echo', jobs => 1000,
  size => 16, inflight => 1, mode => 'fg', payload => 'ascii', connections => 1, verify => 0);
for my $arg (@ARGV) {
  my ($key, $value) = split /=/, $arg, 2;
  $cfg{$key} = $value if defined $value;
}
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

sub run_client {
  my $client = Gearman::Client->new(job_servers => [$server]);
  my $jobs = $cfg{jobs};
  my ($ok, $wrong, $failed, $next, $settled) = (0, 0, 0, 0, 0);
  my @latency;
  my ($user0, $system0) = times;
  my $t0 = time;
  if ($cfg{mode} eq 'bg') {
    for my $i (0 .. $jobs - 1) {
      my $handle = $client->dispatch_background($cfg{fn}, \payload($i));
      if (defined $handle) { $ok++ } else { $failed++ }
    }
    $settled = $jobs;
  } else {
    my $taskset = $client->new_task_set;
    my $add;
    $add = sub {
      my $i = $next++;
      my $input = payload($i);
      my $started = time;
      my $settle = sub {
        $latency[$i] = (time - $started) * 1e6;
        $settled++;
        $add->() if $next < $jobs;
      };
      $taskset->add_task($cfg{fn}, \$input, {
        on_complete => sub {
          my $result = shift;
          if (defined $result && $$result eq $input) { $ok++ } else { $wrong++ }
          $settle->();
        },
        on_fail => sub { $failed++; $settle->() },
      });
    };
    $add->() while $next < $jobs && $next < $cfg{inflight};
    $taskset->wait(timeout => 60);
  }
  my $elapsed = (time - $t0) * 1000;
  my %report = (type => 'client', jobs => $jobs + 0, ok => $ok, wrong => $wrong, failed => $failed,
    lost => $jobs - $settled, elapsedMs => $elapsed, cpuUs => cpu_split($user0, $system0));
  $report{latenciesUs} = [map { sprintf('%.1f', $_ // 0) + 0 } @latency] if $cfg{mode} eq 'fg';
  print $json->encode(\%report), "\n";
  exit 0;
}

sub run_worker {
  if ($cfg{connections} > 1) {
    print $json->encode({ type => 'error', message => 'unsupported: more than 1 worker connection' }), "\n";
    exit 1;
  }
  my $jobs = $cfg{jobs};
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
    on_complete => sub { $handled++; $last = time if $handled == $jobs },
    stop_if => sub { $handled >= $jobs },
  );
  print $json->encode({ type => 'worker', jobs => $handled, wrong => $wrong,
    elapsedMs => ($last - $first) * 1000, cpuUs => cpu_split($user0, $system0) }), "\n";
  1 while <STDIN>; # stay connected until the runner closes stdin
  exit 0;
}

$cfg{role} eq 'worker' ? run_worker() : run_client();
