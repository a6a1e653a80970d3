#!/usr/bin/env perl
# Rewrites the CUDA launches of a kernel source for the host emulation (tests/cuda_emulation):
#   name<<<grid, block, shared, stream>>>(args)      name: kernel, ns::kernel, kernel<T>, kernel<T, 4>
# becomes
#   ::emu::launcher(::emu::Config(grid, block, shared, stream), [](auto... a) { name(a...); }, "name")(args)
# The lambda lets a kernel template whose trailing parameters are deduced from the arguments
# (kernel<To>(from_pointer, ...)) launch as it does under nvcc. The output starts by including
# <cuda_runtime.h> (nvcc includes it implicitly in .cu files) and a #line directive, so compiler
# messages and __builtin_FILE name the original source; no newline is added or removed.
# Usage: rewrite_launches.pl input.cu output.cpp
use strict;
use warnings;

die "usage: $0 input.cu output.cpp\n" unless @ARGV == 2;
my ($input, $output) = @ARGV;
open(my $in, '<', $input) or die "$input: $!\n";
my $source = do { local $/; <$in> };
close $in;

# Template arguments right before <<<: anything without < > ; { }, one level of nesting.
my $template_args = qr/<(?:[^<>;{}]|<[^<>;{}]*>)*>/;
my $count = 0;
$source =~ s{([A-Za-z_][\w:]*(?:\s*$template_args)?)\s*<<<(.*?)>>>}{
  my ($name, $config) = ($1, $2);
  ++$count;
  (my $label = $name) =~ s/\s+/ /g;
  "::emu::launcher(::emu::Config($config), [](auto... emu_args) { $name(emu_args...); }, \"$label\")"
}gse;

if ($source =~ /<<<|>>>\s*\(/) {
  my $line = 1 + (() = substr($source, 0, $-[0]) =~ /\n/g);
  die "$input:$line: a kernel launch the rewrite did not recognize\n";
}

(my $quoted = $input) =~ s/(["\\])/\\$1/g;
open(my $out, '>', "$output.tmp") or die "$output.tmp: $!\n";
print $out "#include <cuda_runtime.h>\n#line 1 \"$quoted\"\n", $source;
close $out or die "$output.tmp: $!\n";
rename("$output.tmp", $output) or die "$output: $!\n";
print STDERR "rewrite_launches: $input: $count launches\n" if $ENV{VERBOSE};
