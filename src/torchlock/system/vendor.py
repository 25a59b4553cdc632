"""Vendor facts the host plans are built from, each with where it is published.

Facts only (URLs, file names, options, fingerprints, versions); the steps that use
them are in :mod:`torchlock.system.components`.
"""

from __future__ import annotations

from msgspec import Struct

# -- NVIDIA driver ------------------------------------------------------------------------------
# Runfile URL pattern: NVIDIA's Unix driver archive, https://www.nvidia.com/en-us/drivers/unix/
# (the book's example: .../XFree86/Linux-x86_64/525.85.05/NVIDIA-Linux-x86_64-525.85.05.run).
# Verified (issue 6, item 7): confirmed. The download page itself was not reachable; the same
# URL for 525.85.05 is in many public install scripts and driver tables on GitHub. Options:
# --silent is nvidia-installer's "run silently; no questions are asked" (option_table.h of
# https://github.com/NVIDIA/nvidia-installer; in R525 it also implied --accept-license, newer
# releases drop that option because using the driver implies the license); --check is the
# makeself runfile's own "check integrity of the archive and exit" (`sh FILE.run --help`).
# --dkms and --no-cc-version-check are not used.
DRIVER_DEFAULT_LINUX = "525.85.05"
DRIVER_RUNFILE_URL = (
    "https://us.download.nvidia.com/XFree86/Linux-x86_64/{v}/NVIDIA-Linux-x86_64-{v}.run"
)
# Data-center (Tesla) Windows driver, R525 branch; URL pattern of NVIDIA's driver downloads,
# https://www.nvidia.com/Download/index.aspx (GeForce installers have other names).
# Verified (issue 6, item 1): confirmed, from secondary sources only: NVIDIA's search page is
# dynamic and not in any reachable copy, but .../tesla/528.89/528.89-data-center-tesla-desktop-
# win10-win11-64bit-dch-international.exe (and the same pattern for 511.65, 528.33, 537.70,
# 572.83) is in several independent public scripts. Windows Server has its own installer,
# {v}-data-center-tesla-desktop-winserver-2016-2019-2022-dch-international.exe, not planned here.
DRIVER_DEFAULT_WINDOWS = "528.89"
DRIVER_WINDOWS_URL = (
    "https://us.download.nvidia.com/tesla/{v}/"
    "{v}-data-center-tesla-desktop-win10-win11-64bit-dch-international.exe"
)
DRIVER_DOWNLOAD_PAGE = "https://www.nvidia.com/Download/index.aspx"
# "Disabling Nouveau" and the runfile's options (--silent: no questions, license accepted):
# Verified (issue 6, item 7): confirmed against copies of the guide's "Disabling Nouveau"
# section (RHEL: /etc/modprobe.d/blacklist-nouveau.conf with the two lines below, then
# `dracut --force`; Ubuntu: the same file, then `update-initramfs -u`, which is also
# Debian's initramfs tool), e.g. https://gist.github.com/beka/c0e49702382477d4ef80c2ef7f4093fc.
# Verified (issue 6, item 3): `--silent --toolkit` (toolkit only, no driver) confirmed by the
# guide's runfile options and common use; the CUDA runfile is not given --check (its md5 from
# NVIDIA's list is checked instead).
CUDA_LINUX_GUIDE = "https://docs.nvidia.com/cuda/cuda-installation-guide-linux/"
CUDA_WINDOWS_GUIDE = "https://docs.nvidia.com/cuda/cuda-installation-guide-microsoft-windows/"
NOUVEAU_BLACKLIST_FILE = "/etc/modprobe.d/blacklist-nouveau.conf"
NOUVEAU_BLACKLIST = "blacklist nouveau\noptions nouveau modeset=0\n"
NVIDIA_PCI_VENDOR = "10de"  # PCI vendor id of NVIDIA Corporation


# -- CUDA toolkit -------------------------------------------------------------------------------
class CudaRelease(Struct, frozen=True, kw_only=True):
    version: str  # "12.0.1"
    linux_driver: str  # the driver bundled in the Linux runfile, part of its file name
    windows_driver: str  # the same for the Windows local installer

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def base(self) -> str:
        return f"https://developer.download.nvidia.com/compute/cuda/{self.version}"

    @property
    def linux_file(self) -> str:
        return f"cuda_{self.version}_{self.linux_driver}_linux.run"

    @property
    def windows_file(self) -> str:
        return f"cuda_{self.version}_{self.windows_driver}_windows.exe"

    @property
    def md5_list(self) -> str:
        """NVIDIA publishes the md5 of every installer of a release in this file."""
        return f"{self.base}/docs/sidebar/md5sum.txt"

    @property
    def archive_page(self) -> str:
        return "https://developer.nvidia.com/cuda-{}-download-archive".format(
            self.version.replace(".", "-")
        )


# File names from NVIDIA's download archive pages (developer.nvidia.com/cuda-toolkit-archive).
# Verified (issue 6, item 2): confirmed for 12.0.1 (cuda_12.0.1_528.33_windows.exe,
# cuda_12.0.1_525.85.12_linux.run under https://developer.download.nvidia.com/compute/cuda/
# 12.0.1/local_installers/, quoted in many public install scripts) and for the Windows names
# of 11.8.0, 12.1.1, 12.2.2, 12.4.1 and the Linux names of 11.8.0 and 12.1.1; the Linux names
# of 12.2.2 and 12.4.1 are still unverified. The archive pages were not in a reachable copy.
CUDA_RELEASES: dict[str, CudaRelease] = {
    r.version: r
    for r in (
        CudaRelease(version="11.8.0", linux_driver="520.61.05", windows_driver="522.06"),
        CudaRelease(version="12.0.1", linux_driver="525.85.12", windows_driver="528.33"),
        CudaRelease(version="12.1.1", linux_driver="530.30.02", windows_driver="531.14"),
        CudaRelease(version="12.2.2", linux_driver="535.104.05", windows_driver="537.13"),
        CudaRelease(version="12.4.1", linux_driver="550.54.15", windows_driver="551.78"),
    )
}
CUDA_DEFAULT = "12.0.1"
# Minimum driver of each CUDA major under minor version compatibility (CUDA release notes,
# table 2; the same figures as src/torchlock/matrix/data/cuda.json).
CUDA_FAMILY_MIN_DRIVER: dict[str, tuple[str, str]] = {  # major -> (linux, windows)
    "11": ("450.80.02", "452.39"),
    "12": ("525.60.13", "527.41"),
}
# Windows installer subpackages for a toolkit without the display driver (CUDA Installation
# Guide for Microsoft Windows, "Install the CUDA Software", subpackage table). Each is passed
# as NAME_MAJOR.MINOR after -s (e.g. -s nvcc_12.0 cudart_12.0 ...); Display.Driver is left out.
# Verified (issue 6, item 2): corrected. The guide's table could not be read in any reachable
# copy; PyTorch's own Windows CUDA installs (.ci/pytorch/windows/internal/cuda_install.bat in
# https://github.com/pytorch/pytorch, and windows/internal/cuda_install.bat in pytorch/builder)
# pass the same names plus thrust (since 11.3: Thrust and CUB headers, needed to build CUDA
# extensions), nvtx and cuda_profiler_api, and from 12.0 nvjitlink; those are added here.
CUDA_WINDOWS_SUBPACKAGES = (
    "nvcc",
    "cudart",
    "cuobjdump",
    "nvprune",
    "cupti",
    "cublas",
    "cublas_dev",
    "cufft",
    "cufft_dev",
    "curand",
    "curand_dev",
    "cusolver",
    "cusolver_dev",
    "cusparse",
    "cusparse_dev",
    "npp",
    "npp_dev",
    "nvrtc",
    "nvrtc_dev",
    "nvml_dev",
    "thrust",
    "nvtx",
    "cuda_profiler_api",
)
# Subpackages that only a CUDA major has (CUDA 11 has no nvJitLink).
CUDA_WINDOWS_SUBPACKAGES_BY_MAJOR: dict[str, tuple[str, ...]] = {"12": ("nvjitlink",)}

# -- conda --------------------------------------------------------------------------------------
# Miniforge: https://github.com/conda-forge/miniforge. Installer options -b (batch, license
# accepted) and -p PREFIX; Windows: /InstallationType=JustMe /RegisterPython=0 /S /D=PATH
# (conda's silent-mode documentation, https://docs.anaconda.com/anaconda/install/silent-mode/).
# Verified (issue 6, item 4): corrected. Only the versioned installer of a release,
# Miniforge3-<tag>-<OS>-<arch>.<ext>, has a .sha256 next to it (scripts/build.sh runs
# `sha256sum INSTALLER > INSTALLER.sha256`; Windows .exe files get "<hex>  <name>" again from
# scripts/verify_signatures_and_checksums.ps1 after signing). The unversioned
# Miniforge3-Linux-x86_64.sh is a plain copy made by .github/workflows/ci.yml with no .sha256,
# so .../releases/latest/download/Miniforge3-Linux-x86_64.sh.sha256 does not exist. Plans
# therefore pin a release tag and fetch its versioned installer and .sha256 (one line: hex
# digest, two spaces, file name).
MINIFORGE_DEFAULT = "26.3.2-3"  # release of 2026-05-29 (git tag of conda-forge/miniforge)
MINIFORGE_TAGGED = "https://github.com/conda-forge/miniforge/releases/download/{version}/{file}"
MINIFORGE_PAGE = "https://github.com/conda-forge/miniforge/releases"
# Anaconda Distribution archive; its index page lists the SHA-256 of every installer.
ANACONDA_DEFAULT = "2023.09-0"
ANACONDA_URL = "https://repo.anaconda.com/archive/{file}"
ANACONDA_ARCHIVE = "https://repo.anaconda.com/archive/"

# -- nginx --------------------------------------------------------------------------------------
# https://nginx.org/en/linux_packages.html: prerequisites, the signing key and its
# fingerprint, the apt source line and pin, the yum repository file.
# Verified (issue 6, item 5) against xml/en/linux_packages.xml of
# https://github.com/nginx/nginx.org (the page's source, rev 117): RHEL and derivatives use
# .../packages/centos/$releasever/$basearch/ (mainline: .../packages/mainline/centos/...) with
# gpgcheck=1, gpgkey=https://nginx.org/keys/nginx_signing.key and module_hotfixes=true;
# Debian/Ubuntu use "deb [signed-by=/usr/share/keyrings/nginx-archive-keyring.gpg]
# <base>/ubuntu|debian <codename> nginx" and the 99nginx pin: confirmed. Corrected: since
# 2025-12-02 the page gives https:// repository URLs (it gave http:// before).
# The key file holds three keys (text/keys/nginx_signing.key of that repository, since
# 2024-05-30): 573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62 (the one the page names, expires
# 2027-05-24), 8540A6F18833A80E9C1653A42FD21310B49F6B46 and
# 9E9BE90EACBCDE69FE9B204CBCDCD8A38D88A2B3 ("the output can contain other keys used to sign
# the packages"). Checking that the first is among them is what the page asks.
NGINX_PACKAGES = "https://nginx.org/packages"
NGINX_PACKAGES_PAGE = "https://nginx.org/en/linux_packages.html"
NGINX_SECURITY_PAGE = "https://nginx.org/en/security_advisories.html"
NGINX_DOWNLOAD_PAGE = "https://nginx.org/en/download.html"
NGINX_SIGNING_KEY = "https://nginx.org/keys/nginx_signing.key"
NGINX_KEY_FINGERPRINT = "573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62"
NGINX_KEYRING = "/usr/share/keyrings/nginx-archive-keyring.gpg"
# The pinned stable release. nginx.org's repository (news and security_advisories, read for
# issue 6): 1.30 is the stable branch since 2026-04-14, 1.30.4 released 2026-07-15; 1.28.x
# before 1.28.3 is affected by the 2026 advisories below. nginx.org builds its stable branch
# for Ubuntu 22.04, RHEL 8 and RHEL 9 (listed on linux_packages.html). It dropped Ubuntu 20.04
# on 2025-06-04: the focal repository stops at 1.28.0-1~focal, so there the last build is
# pinned and the plan says it is affected.
NGINX_DEFAULT = "1.30.4"
NGINX_LAST_FOCAL = "1.28.0"
NGINX_ZIP_URL = "https://nginx.org/download/nginx-{v}.zip"


class Advisory(Struct, frozen=True, kw_only=True):
    cve: str
    fixed_in: tuple[tuple[int, int, int], ...]  # the first fixed release of each branch
    summary: str
    severity: str  # as nginx.org grades it


# From https://nginx.org/en/security_advisories.html. A version older than the first fix of
# its branch (and of every later branch) is affected.
NGINX_ADVISORIES = (
    Advisory(
        cve="CVE-2021-23017",
        fixed_in=((1, 20, 1), (1, 21, 0)),
        summary="1-byte memory overwrite in the resolver",
        severity="medium",
    ),
    Advisory(
        cve="CVE-2022-41741",
        fixed_in=((1, 22, 1), (1, 23, 2)),
        summary="memory corruption in the ngx_http_mp4_module",
        severity="medium",
    ),
    Advisory(
        cve="CVE-2024-7347",
        fixed_in=((1, 26, 2), (1, 27, 1)),
        summary="buffer overread in the ngx_http_mp4_module",
        severity="low",
    ),
    Advisory(
        cve="CVE-2025-23419",
        fixed_in=((1, 26, 3), (1, 27, 4)),
        summary="SSL session reuse vulnerability",
        severity="medium",
    ),
    Advisory(
        cve="CVE-2026-1642",
        fixed_in=((1, 28, 2), (1, 29, 5)),
        summary="an SSL upstream's response could be read before the handshake completed",
        severity="medium",
    ),
    Advisory(
        cve="CVE-2026-27654",
        fixed_in=((1, 28, 3),),
        summary="buffer overflow in the ngx_http_dav_module",
        severity="medium",
    ),
)
# Older than this is affected by the resolver overwrite that makes Ubuntu 22.04's 1.18 a
# fail: doctor fails it and plans refuse it.
NGINX_FAIL_BELOW = (1, 20, 1)

# -- Git ----------------------------------------------------------------------------------------
GIT_LINUX_PAGE = "https://git-scm.com/download/linux"
GIT_WINDOWS_PAGE = "https://git-scm.com/download/win"  # names: winget install --id Git.Git -e
