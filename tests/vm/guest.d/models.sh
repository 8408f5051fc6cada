# SPDX-License-Identifier: GPL-2.0
#
# Issue 7, item 7: model kinds beyond Aurora's MLP in real kernels -- a
# LightGBM classifier (trees, softmax, label + probabilities), a
# RandomForest regressor, a Conv1d policy and a 2-D Conv/BatchNorm/pool
# net, each compiled to a .ko by `lfc compile` on the host
# (models-build.sh) and asked every one of its rows with `lfc infer` here.
# The kernel's answers must be byte for byte what `lfc run --engine c`
# printed on the host: `--raw` (the s64 values, labels included) for all,
# and the real-valued text too for one-output models. Sourced by guest.sh
# when run.sh was given LF_VM_LFC (lf_kernel unloaded before and after).

MD=$M/models

# mdl_field N COLUMN: column COLUMN of snapshot N's "models" line.
mdl_field() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' $MD/models; }

why=
[ -s $MD/models ] || why="no $MD/models (see models-build.sh's log on the host)"
command -v lfc > /dev/null || why="$why; no lfc"
[ -s $M/lf_kernel.ko ] || why="$why; no lf_kernel.ko"
if [ -n "$why" ]; then
	fail models_inputs_present "${why#; }; model checks not run"
else
	pass models_inputs_present
	mdl_t0=$(date +%s)
	insmod $M/lf_kernel.ko
	for n in $(awk '{ print $1 }' $MD/models); do
		app=$(mdl_field "$n" 2) mod=$(mdl_field "$n" 3)
		rows=$(mdl_field "$n" 4) kind=$(mdl_field "$n" 6)
		run insmod $MD/lf_model_$n.ko
		[ "$RC" -eq 0 ] && [ "$(active "$app")" = "uuid=$n slot=0" ] &&
			pass "models_${kind}_registers" ||
			fail "models_${kind}_registers" "rc=$RC $OUT; active $(active "$app")"
		q0=$(lfnl status | sed -n "s/^app=$app name=.* queries=\([0-9]*\) .*/\1/p")
		lfc infer --app "$app" --raw --input $MD/rows_$n.csv \
			> /tmp/mdl_out.csv 2> /tmp/mdl_err
		rc=$?
		q1=$(lfnl status | sed -n "s/^app=$app name=.* queries=\([0-9]*\) .*/\1/p")
		if [ "$rc" -eq 0 ] && [ "$(grep -c . /tmp/mdl_out.csv)" -eq "$rows" ] &&
		   cmp -s /tmp/mdl_out.csv $MD/expect_$n.csv &&
		   [ "$q1" -eq $((q0 + rows)) ]; then
			pass "models_${kind}_kernel_equals_host_c"
		else
			fail "models_${kind}_kernel_equals_host_c" "rc=$rc $(head -c 200 /tmp/mdl_err); queries $q0 -> $q1, rows $rows; got/want: $(diff /tmp/mdl_out.csv $MD/expect_$n.csv | head -6 | tr '\n' ' ')"
		fi
		if [ -s $MD/real_$n.csv ]; then
			lfc infer --app "$app" --input $MD/rows_$n.csv \
				> /tmp/mdl_out.csv 2> /tmp/mdl_err
			rc=$?
			[ "$rc" -eq 0 ] && cmp -s /tmp/mdl_out.csv $MD/real_$n.csv &&
				pass "models_${kind}_real_output_equals_host" ||
				fail "models_${kind}_real_output_equals_host" "rc=$rc $(head -c 200 /tmp/mdl_err); $(diff /tmp/mdl_out.csv $MD/real_$n.csv | head -4 | tr '\n' ' ')"
		fi
		echo "info: models: $kind (uuid $n, app $app, $mod): $rows rows, $(mdl_field "$n" 5) output values per row"
	done
	for n in $(awk '{ print $1 }' $MD/models); do
		lfnl destroy "$(mdl_field "$n" 2)" > /dev/null 2>&1
		rmmod "$(mdl_field "$n" 3)"
	done
	rmmod lf_kernel
	echo "info: models: checks took $(($(date +%s) - mdl_t0)) s"
	! loaded lf_kernel && pass models_teardown ||
		fail models_teardown "$(cat /proc/modules)"
fi
