# Smoke test of delayprop-bench: a tiny configuration must exit 0 and print a JSON line.
# (Benchmarks are not tests: no timing is checked.)
add_test(NAME bench.smoke
         COMMAND delayprop-bench --workload shd-rec --hidden 16 --max-delay 8 --samples 2 --repeat 1
                 --steps 50 --input-spikes 200 --threads 2 --bare --no-table)
set_tests_properties(bench.smoke PROPERTIES LABELS bench TIMEOUT 120
                     PASS_REGULAR_EXPRESSION "^\\{\"backend\":\"cpu\".*\"samples_per_s\":")
add_test(NAME bench.smoke_yinyang
         COMMAND delayprop-bench --workload yinyang --hidden 8 --samples 2 --repeat 1 --dt 0.05 --steps 600 --max-delay 20)
set_tests_properties(bench.smoke_yinyang PROPERTIES LABELS bench TIMEOUT 120
                     PASS_REGULAR_EXPRESSION "[|] yinyang [|]")
add_test(NAME bench.bad_workload COMMAND delayprop-bench --workload nope)
set_tests_properties(bench.bad_workload PROPERTIES LABELS bench WILL_FAIL TRUE)
# --simd off,auto: both kernel sets in one run, one JSON line each, the same gradient bits.
add_test(NAME bench.simd_off_auto
         COMMAND python3 -c "import json,subprocess,sys; out=subprocess.run(sys.argv[1:],capture_output=True,text=True,check=True).stdout; rows=[json.loads(l) for l in out.splitlines() if l.startswith('{')]; assert [r['simd'] for r in rows]==['off','auto'], rows; assert rows[0]['simd_kernels']=='scalar'; assert rows[0]['grad_hash']==rows[1]['grad_hash'], rows; print('simd kernels', rows[1]['simd_kernels'], 'hash', rows[0]['grad_hash'])"
                 $<TARGET_FILE:delayprop-bench> --workload shd-rec --hidden 17 --max-delay 8 --samples 2
                 --repeat 1 --steps 50 --input-spikes 200 --simd off,auto --no-table)
set_tests_properties(bench.simd_off_auto PROPERTIES LABELS bench TIMEOUT 120)
