//! The GDAL utilities `gdal_translate` and `gdalwarp` as library calls (`GDALTranslate`,
//! `GDALWarp`), with their command-line arguments.

use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr;

use gdal::Dataset;

use crate::RasterError;

/// A NULL-terminated `char **` argument list that frees itself.
struct Args {
    _owned: Vec<CString>,
    pointers: Vec<*mut c_char>,
}

impl Args {
    fn new(args: &[String]) -> Result<Self, RasterError> {
        let owned = args
            .iter()
            .map(|a| {
                CString::new(a.as_str())
                    .map_err(|_| RasterError::Unsuitable(format!("argument {a:?} holds a NUL")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut pointers: Vec<*mut c_char> =
            owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        pointers.push(ptr::null_mut());
        Ok(Self {
            _owned: owned,
            pointers,
        })
    }
}

fn last_error() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a pointer to a thread-local, NUL-terminated buffer.
    let message = unsafe { CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) };
    let message = message.to_string_lossy().trim().to_owned();
    if message.is_empty() {
        "GDAL gave no reason".to_owned()
    } else {
        message
    }
}

fn c_path(path: &str) -> Result<CString, RasterError> {
    CString::new(path).map_err(|_| RasterError::Unsuitable(format!("path {path:?} holds a NUL")))
}

/// `gdal_translate <args> src dest`: returns the new dataset (open, for a VRT in memory
/// when `dest` is empty and `-of VRT` is given).
pub(crate) fn translate(
    src: &Dataset,
    dest: &str,
    args: &[String],
) -> Result<Dataset, RasterError> {
    let mut argv = Args::new(args)?;
    let dest_c = c_path(dest)?;
    // SAFETY: argv is NULL-terminated and outlives the call; the options are freed below.
    unsafe {
        gdal_sys::CPLErrorReset();
        let options =
            gdal_sys::GDALTranslateOptionsNew(argv.pointers.as_mut_ptr(), ptr::null_mut());
        if options.is_null() {
            return Err(RasterError::gdal("gdal_translate options", last_error()));
        }
        let mut usage_error: c_int = 0;
        let out =
            gdal_sys::GDALTranslate(dest_c.as_ptr(), src.c_dataset(), options, &mut usage_error);
        gdal_sys::GDALTranslateOptionsFree(options);
        if out.is_null() {
            return Err(RasterError::gdal(
                format!("gdal_translate {}", args.join(" ")),
                last_error(),
            ));
        }
        Ok(Dataset::from_c_dataset(out))
    }
}

/// `gdalwarp <args> src dest`.
pub(crate) fn warp(src: &Dataset, dest: &str, args: &[String]) -> Result<Dataset, RasterError> {
    let mut argv = Args::new(args)?;
    let dest_c = c_path(dest)?;
    let mut sources = [src.c_dataset()];
    // SAFETY: as for `translate`; `sources` holds one valid handle for the call.
    unsafe {
        gdal_sys::CPLErrorReset();
        let options = gdal_sys::GDALWarpAppOptionsNew(argv.pointers.as_mut_ptr(), ptr::null_mut());
        if options.is_null() {
            return Err(RasterError::gdal("gdalwarp options", last_error()));
        }
        let mut usage_error: c_int = 0;
        let out = gdal_sys::GDALWarp(
            dest_c.as_ptr(),
            ptr::null_mut(),
            1,
            sources.as_mut_ptr(),
            options,
            &mut usage_error,
        );
        gdal_sys::GDALWarpAppOptionsFree(options);
        if out.is_null() {
            return Err(RasterError::gdal(
                format!("gdalwarp {}", args.join(" ")),
                last_error(),
            ));
        }
        Ok(Dataset::from_c_dataset(out))
    }
}

/// `gdalwarp <args> src dest` into the open dataset `dest` (opened for update): the
/// source's valid pixels are drawn over what `dest` holds.
pub(crate) fn warp_into(src: &Dataset, dest: &Dataset, args: &[String]) -> Result<(), RasterError> {
    let mut argv = Args::new(args)?;
    let mut sources = [src.c_dataset()];
    // SAFETY: as for `warp`; `dest` is a valid handle that stays owned by the caller (GDALWarp
    // returns that same handle, which is not wrapped again).
    unsafe {
        gdal_sys::CPLErrorReset();
        let options = gdal_sys::GDALWarpAppOptionsNew(argv.pointers.as_mut_ptr(), ptr::null_mut());
        if options.is_null() {
            return Err(RasterError::gdal("gdalwarp options", last_error()));
        }
        let mut usage_error: c_int = 0;
        let out = gdal_sys::GDALWarp(
            ptr::null(),
            dest.c_dataset(),
            1,
            sources.as_mut_ptr(),
            options,
            &mut usage_error,
        );
        gdal_sys::GDALWarpAppOptionsFree(options);
        if out.is_null() {
            return Err(RasterError::gdal(
                format!("gdalwarp {}", args.join(" ")),
                last_error(),
            ));
        }
        Ok(())
    }
}
