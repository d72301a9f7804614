# gnuplot plots.gp (run in this directory) redraws the plots of report.md
set terminal svg size 900,540 dynamic noenhanced background rgb 'white'
set grid
set key top right
set ylabel 'M events/s'
set title 'File mode, tumbling_sum_count_avg: throughput vs keys (10000000 events, median of 3)'
set logscale x
set xlabel 'keys'
set yrange [0:*]
set output 'throughput_vs_keys.svg'
plot 'keys.dat' using 1:2 with linespoints lw 2 title 'naive_agg, JSON (1 thread)', 'keys.dat' using 1:4 with linespoints lw 2 title 'sluice json, 1 worker', 'keys.dat' using 1:5 with linespoints dt 2 title 'sluice json, 1 worker, per core (CPU s)', 'keys.dat' using 1:6 with linespoints lw 2 title 'sluice json, 2 workers', 'keys.dat' using 1:7 with linespoints dt 2 title 'sluice json, 2 workers, per core (CPU s)', 'keys.dat' using 1:8 with linespoints lw 2 title 'sluice flatbuffers, 1 worker', 'keys.dat' using 1:9 with linespoints dt 2 title 'sluice flatbuffers, 1 worker, per core (CPU s)', 'keys.dat' using 1:10 with linespoints lw 2 title 'sluice flatbuffers, 2 workers', 'keys.dat' using 1:11 with linespoints dt 2 title 'sluice flatbuffers, 2 workers, per core (CPU s)'
unset logscale x
set xlabel 'workers'
set xtics 1
set title 'File mode, tumbling_sum_count_avg: throughput vs workers (2 CPUs)'
set output 'throughput_vs_workers.svg'
plot 'workers.dat' using 1:2 with linespoints lw 2 title 'json, 10000 keys', 'workers.dat' using 1:3 with linespoints lw 2 title 'json, 100000 keys', 'workers.dat' using 1:4 with linespoints lw 2 title 'json, 1000000 keys', 'workers.dat' using 1:5 with linespoints lw 2 title 'flatbuffers, 10000 keys', 'workers.dat' using 1:6 with linespoints lw 2 title 'flatbuffers, 100000 keys', 'workers.dat' using 1:7 with linespoints lw 2 title 'flatbuffers, 1000000 keys'
set xtics autofreq
set logscale x
set xlabel 'latency, ms (log)'
set ylabel '% of records'
set yrange [0:*]
set xrange [0.8:5425.5]
set key top left
set title "Kafka mode latency (generator at 205148 events/s): the baseline consumer's histogram;\nsluice's percentiles, received -> commit (EOS) / acknowledged (ALO), dashed"
set arrow from 677.4, graph 0 to 677.4, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
set label 'sluice EOS p50' at 677.4, graph 0.93 left offset 0.3,0 font ',9' tc rgb '#1f77b4'
set arrow from 1775.1, graph 0 to 1775.1, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
set label 'sluice EOS p99' at 1775.1, graph 0.86 left offset 0.3,0 font ',9' tc rgb '#1f77b4'
set arrow from 1808.5, graph 0 to 1808.5, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
set label 'sluice EOS p99.9' at 1808.5, graph 0.79 left offset 0.3,0 font ',9' tc rgb '#1f77b4'
set arrow from 29.9, graph 0 to 29.9, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set label 'sluice ALO p50' at 29.9, graph 0.72 left offset 0.3,0 font ',9' tc rgb '#d62728'
set arrow from 482.9, graph 0 to 482.9, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set label 'sluice ALO p99' at 482.9, graph 0.65 left offset 0.3,0 font ',9' tc rgb '#d62728'
set arrow from 483.7, graph 0 to 483.7, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set label 'sluice ALO p99.9' at 483.7, graph 0.58 left offset 0.3,0 font ',9' tc rgb '#d62728'
set output 'latency_histogram.svg'
plot 'latency-exactly_once_v2.dat' using (sqrt($1*$2)):3 with histeps lw 2 lc rgb '#1f77b4' title 'baseline consumer, CreateTime -> consumed (EOS run)', 'latency-at_least_once.dat' using (sqrt($1*$2)):3 with histeps lw 2 lc rgb '#d62728' title 'baseline consumer, CreateTime -> consumed (ALO run)'
unset arrow
unset label
unset logscale
set yrange [*:*]
set xrange [*:*]
set ylabel 'M events/s'
set key top right
set terminal pngcairo size 900,540 noenhanced
set grid
set key top right
set ylabel 'M events/s'
set title 'File mode, tumbling_sum_count_avg: throughput vs keys (10000000 events, median of 3)'
set logscale x
set xlabel 'keys'
set yrange [0:*]
set output 'throughput_vs_keys.png'
plot 'keys.dat' using 1:2 with linespoints lw 2 title 'naive_agg, JSON (1 thread)', 'keys.dat' using 1:4 with linespoints lw 2 title 'sluice json, 1 worker', 'keys.dat' using 1:5 with linespoints dt 2 title 'sluice json, 1 worker, per core (CPU s)', 'keys.dat' using 1:6 with linespoints lw 2 title 'sluice json, 2 workers', 'keys.dat' using 1:7 with linespoints dt 2 title 'sluice json, 2 workers, per core (CPU s)', 'keys.dat' using 1:8 with linespoints lw 2 title 'sluice flatbuffers, 1 worker', 'keys.dat' using 1:9 with linespoints dt 2 title 'sluice flatbuffers, 1 worker, per core (CPU s)', 'keys.dat' using 1:10 with linespoints lw 2 title 'sluice flatbuffers, 2 workers', 'keys.dat' using 1:11 with linespoints dt 2 title 'sluice flatbuffers, 2 workers, per core (CPU s)'
unset logscale x
set xlabel 'workers'
set xtics 1
set title 'File mode, tumbling_sum_count_avg: throughput vs workers (2 CPUs)'
set output 'throughput_vs_workers.png'
plot 'workers.dat' using 1:2 with linespoints lw 2 title 'json, 10000 keys', 'workers.dat' using 1:3 with linespoints lw 2 title 'json, 100000 keys', 'workers.dat' using 1:4 with linespoints lw 2 title 'json, 1000000 keys', 'workers.dat' using 1:5 with linespoints lw 2 title 'flatbuffers, 10000 keys', 'workers.dat' using 1:6 with linespoints lw 2 title 'flatbuffers, 100000 keys', 'workers.dat' using 1:7 with linespoints lw 2 title 'flatbuffers, 1000000 keys'
set xtics autofreq
set logscale x
set xlabel 'latency, ms (log)'
set ylabel '% of records'
set yrange [0:*]
set xrange [0.8:5425.5]
set key top left
set title "Kafka mode latency (generator at 205148 events/s): the baseline consumer's histogram;\nsluice's percentiles, received -> commit (EOS) / acknowledged (ALO), dashed"
set arrow from 677.4, graph 0 to 677.4, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
set label 'sluice EOS p50' at 677.4, graph 0.93 left offset 0.3,0 font ',9' tc rgb '#1f77b4'
set arrow from 1775.1, graph 0 to 1775.1, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
set label 'sluice EOS p99' at 1775.1, graph 0.86 left offset 0.3,0 font ',9' tc rgb '#1f77b4'
set arrow from 1808.5, graph 0 to 1808.5, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
set label 'sluice EOS p99.9' at 1808.5, graph 0.79 left offset 0.3,0 font ',9' tc rgb '#1f77b4'
set arrow from 29.9, graph 0 to 29.9, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set label 'sluice ALO p50' at 29.9, graph 0.72 left offset 0.3,0 font ',9' tc rgb '#d62728'
set arrow from 482.9, graph 0 to 482.9, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set label 'sluice ALO p99' at 482.9, graph 0.65 left offset 0.3,0 font ',9' tc rgb '#d62728'
set arrow from 483.7, graph 0 to 483.7, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set label 'sluice ALO p99.9' at 483.7, graph 0.58 left offset 0.3,0 font ',9' tc rgb '#d62728'
set output 'latency_histogram.png'
plot 'latency-exactly_once_v2.dat' using (sqrt($1*$2)):3 with histeps lw 2 lc rgb '#1f77b4' title 'baseline consumer, CreateTime -> consumed (EOS run)', 'latency-at_least_once.dat' using (sqrt($1*$2)):3 with histeps lw 2 lc rgb '#d62728' title 'baseline consumer, CreateTime -> consumed (ALO run)'
unset arrow
unset label
unset logscale
set yrange [*:*]
set xrange [*:*]
set ylabel 'M events/s'
set key top right
