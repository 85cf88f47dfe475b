"""XLA's compiled programs kept on disk, never shared between CPUs that could run
different code. (A forced rerun loading every program and writing the same bytes:
``test_pipeline.py``.)"""

from mnist_vae.runtime import compile_cache

ZEN3 = {
    "vendor_id": "AuthenticAMD",
    "cpu family": "25",
    "model": "1",
    "model name": "AMD EPYC",
    "flags": "fpu sse2 avx avx2 fma",
}


def test_each_cpu_kind_and_compiler_setting_has_its_own_folder():
    zen4 = {**ZEN3, "model": "17", "flags": ZEN3["flags"] + " avx512f"}
    same_model_other_flags = {**ZEN3, "flags": "fpu sse2 avx"}

    keys = [compile_cache.key({}, cpu) for cpu in (ZEN3, zen4, same_model_other_flags)]
    keys.append(compile_cache.key({"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}, ZEN3))

    assert compile_cache.key({}, dict(ZEN3)) == keys[0]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("amd-epyc-") for key in keys)


def test_the_user_chooses_the_folder_or_turns_the_cache_off(tmp_path):
    environ = {"XDG_CACHE_HOME": str(tmp_path), "TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    compile_cache.configure(environ)
    key = compile_cache.key({"TF_XLA_FLAGS": "--tf_xla_auto_jit=0"})
    folder = tmp_path / "mnist-vae" / "xla" / key
    assert environ["TF_XLA_FLAGS"] == (
        f"--tf_xla_auto_jit=0 {compile_cache.TF_FLAG}={folder / 'tensorflow'}"
    )
    assert environ["JAX_COMPILATION_CACHE_DIR"] == str(folder / "jax")

    user_flag = {"TF_XLA_FLAGS": f"{compile_cache.TF_FLAG}=/elsewhere"}
    compile_cache.configure(user_flag)
    assert user_flag == {"TF_XLA_FLAGS": f"{compile_cache.TF_FLAG}=/elsewhere"}

    off = {compile_cache.VARIABLE: ""}
    compile_cache.configure(off)
    assert off == {compile_cache.VARIABLE: ""}
