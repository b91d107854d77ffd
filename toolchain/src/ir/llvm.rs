//! A thin, owned layer over the LLVM C API (llvm-sys) for the IR passes.
//!
//! `Context` and `Module` own their LLVM objects. `Value`, `Type` and `Block` are copyable
//! handles into a module; every pass takes the module by `&mut` and never keeps a handle past
//! its own run, so handles never outlive the module they point into. All `unsafe` for the IR
//! lives in this file.

use std::ffi::{CStr, CString, c_char};
use std::path::Path;
use std::ptr;

use llvm_sys::analysis::{LLVMVerifierFailureAction, LLVMVerifyModule};
use llvm_sys::bit_reader::LLVMParseBitcodeInContext2;
use llvm_sys::bit_writer::LLVMWriteBitcodeToMemoryBuffer;
use llvm_sys::core::*;
use llvm_sys::debuginfo::{
    LLVMDIFileGetFilename, LLVMDIScopeGetFile, LLVMGetSubprogram, LLVMInstructionGetDebugLoc,
};
use llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use llvm_sys::linker::LLVMLinkModules2;
use llvm_sys::prelude::*;
use llvm_sys::target::*;
use llvm_sys::target_machine::*;
use llvm_sys::transforms::pass_builder::*;
use llvm_sys::{LLVMLinkage, LLVMOpcode, LLVMTypeKind, LLVMUnnamedAddr, LLVMVisibility};

pub use llvm_sys::LLVMIntPredicate as IntPredicate;
pub use llvm_sys::LLVMLinkage as Linkage;
pub use llvm_sys::LLVMOpcode as Opcode;
pub use llvm_sys::LLVMTypeKind as TypeKind;

/// Takes ownership of an LLVM-allocated message.
fn take_message(raw: *mut c_char) -> String {
    if raw.is_null() {
        return String::new();
    }
    // SAFETY: LLVM returned a NUL-terminated string that we now own and free once.
    unsafe {
        let text = CStr::from_ptr(raw).to_string_lossy().into_owned();
        LLVMDisposeMessage(raw);
        text
    }
}

fn take_error(err: LLVMErrorRef) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null LLVMErrorRef is consumed exactly once by LLVMGetErrorMessage.
    unsafe {
        let raw = LLVMGetErrorMessage(err);
        let text = CStr::from_ptr(raw).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(raw);
        Err(text)
    }
}

fn cstring(text: &str) -> CString {
    CString::new(text.replace('\0', "")).expect("NUL bytes were removed")
}

/// Registers the targets xisa compiles for. Idempotent.
pub fn initialise_targets() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: LLVM's target registration functions have no preconditions.
        unsafe {
            llvm_sys::target::LLVM_InitializeAllTargetInfos();
            llvm_sys::target::LLVM_InitializeAllTargets();
            llvm_sys::target::LLVM_InitializeAllTargetMCs();
            llvm_sys::target::LLVM_InitializeAllAsmPrinters();
            llvm_sys::target::LLVM_InitializeAllAsmParsers();
        }
    });
}

/// Sets LLVM command-line options (process-global; only ever called with fixed strings).
pub fn set_llvm_options(options: &[&str]) {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    let owned: Vec<CString> = std::iter::once("xisa")
        .chain(options.iter().copied())
        .map(cstring)
        .collect();
    ONCE.call_once(|| {
        let argv: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        // SAFETY: argv holds valid C strings that live across the call.
        unsafe {
            llvm_sys::support::LLVMParseCommandLineOptions(
                argv.len() as i32,
                argv.as_ptr(),
                ptr::null(),
            )
        };
    });
}

pub struct Context {
    raw: LLVMContextRef,
}

impl Context {
    pub fn new() -> Self {
        // SAFETY: creates a fresh context that this value owns.
        Context {
            raw: unsafe { LLVMContextCreate() },
        }
    }

    pub fn parse_bitcode(&self, bytes: &[u8], name: &str) -> Result<Module<'_>, String> {
        let name_c = cstring(name);
        // SAFETY: the buffer copies `bytes`; LLVMParseBitcodeInContext2 does not take
        // ownership of the buffer, which we dispose of afterwards.
        unsafe {
            let buffer = LLVMCreateMemoryBufferWithMemoryRangeCopy(
                bytes.as_ptr() as *const c_char,
                bytes.len(),
                name_c.as_ptr(),
            );
            let mut module = ptr::null_mut();
            let failed = LLVMParseBitcodeInContext2(self.raw, buffer, &mut module);
            LLVMDisposeMemoryBuffer(buffer);
            if failed != 0 || module.is_null() {
                return Err(format!("{name}: not a valid LLVM bitcode module"));
            }
            Ok(Module {
                raw: module,
                _context: self,
            })
        }
    }

    /// Parses textual IR (used by the passes' unit tests).
    pub fn parse_ir(&self, text: &str, name: &str) -> Result<Module<'_>, String> {
        let name_c = cstring(name);
        // SAFETY: LLVMParseIRInContext takes ownership of the buffer (a copy of `text`); the
        // message, if any, is ours to free.
        unsafe {
            let buffer = LLVMCreateMemoryBufferWithMemoryRangeCopy(
                text.as_ptr() as *const c_char,
                text.len(),
                name_c.as_ptr(),
            );
            let mut module = ptr::null_mut();
            let mut message = ptr::null_mut();
            let failed = llvm_sys::ir_reader::LLVMParseIRInContext(
                self.raw,
                buffer,
                &mut module,
                &mut message,
            );
            let message = take_message(message);
            if failed != 0 || module.is_null() {
                return Err(format!("{name}: not valid LLVM IR: {message}"));
            }
            Ok(Module {
                raw: module,
                _context: self,
            })
        }
    }

    pub fn parse_bitcode_file(&self, path: &Path) -> Result<Module<'_>, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.parse_bitcode(&bytes, &path.display().to_string())
    }

    pub fn i8(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMInt8TypeInContext(self.raw) })
    }
    pub fn i1(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMInt1TypeInContext(self.raw) })
    }
    pub fn i32(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMInt32TypeInContext(self.raw) })
    }
    pub fn i64(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMInt64TypeInContext(self.raw) })
    }
    pub fn ptr(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMPointerTypeInContext(self.raw, 0) })
    }
    pub fn token(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMTokenTypeInContext(self.raw) })
    }
    pub fn void(&self) -> Type {
        // SAFETY: the context is live.
        Type(unsafe { LLVMVoidTypeInContext(self.raw) })
    }

    pub fn array(&self, element: Type, count: u64) -> Type {
        // SAFETY: element belongs to this context.
        Type(unsafe { LLVMArrayType2(element.0, count) })
    }

    pub fn packed_struct(&self, fields: &[Type]) -> Type {
        let mut raw: Vec<LLVMTypeRef> = fields.iter().map(|t| t.0).collect();
        // SAFETY: all field types belong to this context; LLVM copies the array.
        Type(unsafe { LLVMStructTypeInContext(self.raw, raw.as_mut_ptr(), raw.len() as u32, 1) })
    }

    pub fn function_type(&self, ret: Type, params: &[Type], variadic: bool) -> Type {
        let mut raw: Vec<LLVMTypeRef> = params.iter().map(|t| t.0).collect();
        // SAFETY: all types belong to this context; LLVM copies the array.
        Type(unsafe {
            LLVMFunctionType(
                ret.0,
                raw.as_mut_ptr(),
                raw.len() as u32,
                variadic as LLVMBool,
            )
        })
    }

    pub fn const_packed_struct(&self, fields: &[Value]) -> Value {
        let mut raw: Vec<LLVMValueRef> = fields.iter().map(|v| v.0).collect();
        // SAFETY: all constants belong to this context; LLVM copies the array.
        Value(unsafe { LLVMConstStructInContext(self.raw, raw.as_mut_ptr(), raw.len() as u32, 1) })
    }

    pub fn const_string_attribute(&self, key: &str, value: &str) -> Attribute {
        // SAFETY: key and value are passed with explicit lengths.
        Attribute(unsafe {
            LLVMCreateStringAttribute(
                self.raw,
                key.as_ptr() as *const c_char,
                key.len() as u32,
                value.as_ptr() as *const c_char,
                value.len() as u32,
            )
        })
    }

    pub fn enum_attribute(&self, name: &str, value: u64) -> Attribute {
        // SAFETY: name is passed with an explicit length; an unknown name yields kind 0,
        // which we refuse below.
        unsafe {
            let kind = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const c_char, name.len());
            assert!(kind != 0, "unknown LLVM attribute {name}");
            Attribute(LLVMCreateEnumAttribute(self.raw, kind, value))
        }
    }

    /// A type attribute such as `elementtype(T)`.
    pub fn type_attribute(&self, name: &str, ty: Type) -> Attribute {
        // SAFETY: name is passed with its length; an unknown name yields kind 0, refused.
        unsafe {
            let kind = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const c_char, name.len());
            assert!(kind != 0, "unknown LLVM attribute {name}");
            Attribute(LLVMCreateTypeAttribute(self.raw, kind, ty.0))
        }
    }

    pub fn new_builder(&self) -> Builder {
        // SAFETY: the builder is owned by the returned value.
        Builder {
            raw: unsafe { LLVMCreateBuilderInContext(self.raw) },
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: every Module borrows the context, so none is alive here.
        unsafe { LLVMContextDispose(self.raw) }
    }
}

pub struct Module<'c> {
    raw: LLVMModuleRef,
    _context: &'c Context,
}

impl Drop for Module<'_> {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: we own the module.
            unsafe { LLVMDisposeModule(self.raw) }
        }
    }
}

impl<'c> Module<'c> {
    pub fn context(&self) -> &'c Context {
        self._context
    }

    /// Links `other` into this module (LLVM's IR linker); `other` is consumed.
    pub fn link(&mut self, mut other: Module<'c>) -> Result<(), String> {
        let src = std::mem::replace(&mut other.raw, ptr::null_mut());
        // SAFETY: LLVMLinkModules2 takes ownership of src (destroyed whether or not it fails).
        let failed = unsafe { LLVMLinkModules2(self.raw, src) };
        if failed != 0 {
            Err("the IR linker reported an error".into())
        } else {
            Ok(())
        }
    }

    pub fn to_bitcode(&self) -> Vec<u8> {
        // SAFETY: the buffer is owned here and disposed after copying.
        unsafe {
            let buffer = LLVMWriteBitcodeToMemoryBuffer(self.raw);
            let start = LLVMGetBufferStart(buffer) as *const u8;
            let len = LLVMGetBufferSize(buffer);
            let bytes = std::slice::from_raw_parts(start, len).to_vec();
            LLVMDisposeMemoryBuffer(buffer);
            bytes
        }
    }

    pub fn to_text(&self) -> String {
        // SAFETY: the module is live.
        take_message(unsafe { LLVMPrintModuleToString(self.raw) })
    }

    pub fn verify(&self) -> Result<(), String> {
        let mut message = ptr::null_mut();
        // SAFETY: the module is live; the message is freed by take_message.
        let broken = unsafe {
            LLVMVerifyModule(
                self.raw,
                LLVMVerifierFailureAction::LLVMReturnStatusAction,
                &mut message,
            )
        };
        let text = take_message(message);
        if broken != 0 { Err(text) } else { Ok(()) }
    }

    pub fn triple(&self) -> String {
        // SAFETY: returns a pointer into the module, copied immediately.
        unsafe {
            CStr::from_ptr(LLVMGetTarget(self.raw))
                .to_string_lossy()
                .into_owned()
        }
    }

    pub fn set_triple(&mut self, triple: &str) {
        let c = cstring(triple);
        // SAFETY: LLVM copies the string.
        unsafe { LLVMSetTarget(self.raw, c.as_ptr()) }
    }

    pub fn data_layout(&self) -> String {
        // SAFETY: returns a pointer into the module, copied immediately.
        unsafe {
            CStr::from_ptr(LLVMGetDataLayoutStr(self.raw))
                .to_string_lossy()
                .into_owned()
        }
    }

    pub fn set_data_layout(&mut self, layout: &str) {
        let c = cstring(layout);
        // SAFETY: LLVM copies the string.
        unsafe { LLVMSetDataLayout(self.raw, c.as_ptr()) }
    }

    pub fn source_name(&self) -> String {
        let mut len = 0;
        // SAFETY: returns a pointer into the module with its length.
        unsafe {
            let raw = LLVMGetSourceFileName(self.raw, &mut len);
            String::from_utf8_lossy(std::slice::from_raw_parts(raw as *const u8, len)).into_owned()
        }
    }

    /// Module-level inline assembly, if any.
    pub fn inline_asm(&self) -> String {
        let mut len = 0;
        // SAFETY: returns a pointer into the module with its length, copied immediately.
        unsafe {
            let raw = LLVMGetModuleInlineAsm(self.raw, &mut len);
            if raw.is_null() {
                return String::new();
            }
            String::from_utf8_lossy(std::slice::from_raw_parts(raw as *const u8, len)).into_owned()
        }
    }

    pub fn functions(&self) -> Vec<Value> {
        // SAFETY: the live module's function list, read without modifying it.
        unsafe { collect_list(LLVMGetFirstFunction(self.raw), LLVMGetNextFunction, Value) }
    }

    pub fn globals(&self) -> Vec<Value> {
        // SAFETY: the live module's global list, read without modifying it.
        unsafe { collect_list(LLVMGetFirstGlobal(self.raw), LLVMGetNextGlobal, Value) }
    }

    pub fn aliases(&self) -> Vec<Value> {
        // SAFETY: the live module's alias list, read without modifying it.
        unsafe {
            collect_list(
                LLVMGetFirstGlobalAlias(self.raw),
                LLVMGetNextGlobalAlias,
                Value,
            )
        }
    }

    pub fn function(&self, name: &str) -> Option<Value> {
        let c = cstring(name);
        // SAFETY: lookup in the live module.
        let f = unsafe { LLVMGetNamedFunction(self.raw, c.as_ptr()) };
        (!f.is_null()).then_some(Value(f))
    }

    pub fn global(&self, name: &str) -> Option<Value> {
        let c = cstring(name);
        // SAFETY: lookup in the live module.
        let g = unsafe { LLVMGetNamedGlobal(self.raw, c.as_ptr()) };
        (!g.is_null()).then_some(Value(g))
    }

    pub fn add_function(&mut self, name: &str, fn_type: Type) -> Value {
        let c = cstring(name);
        // SAFETY: fn_type is a function type of this module's context.
        Value(unsafe { LLVMAddFunction(self.raw, c.as_ptr(), fn_type.0) })
    }

    pub fn add_global(&mut self, name: &str, ty: Type) -> Value {
        let c = cstring(name);
        // SAFETY: ty belongs to this module's context.
        Value(unsafe { LLVMAddGlobal(self.raw, ty.0, c.as_ptr()) })
    }

    /// A global in address space `space` (on wasm, space 1 holds wasm globals).
    pub fn add_global_in_address_space(&mut self, name: &str, ty: Type, space: u32) -> Value {
        let c = cstring(name);
        // SAFETY: ty belongs to this module's context.
        Value(unsafe { LLVMAddGlobalInAddressSpace(self.raw, ty.0, c.as_ptr(), space) })
    }

    pub fn add_alias(&mut self, name: &str, value_type: Type, aliasee: Value) -> Value {
        let c = cstring(name);
        // SAFETY: aliasee is a constant of this module.
        Value(unsafe { LLVMAddAlias2(self.raw, value_type.0, 0, aliasee.0, c.as_ptr()) })
    }

    pub fn intrinsic(&mut self, name: &str, overloads: &[Type]) -> Value {
        let mut raw: Vec<LLVMTypeRef> = overloads.iter().map(|t| t.0).collect();
        // SAFETY: the intrinsic name is looked up with its length; an unknown name gives ID 0,
        // which we refuse.
        unsafe {
            let id = LLVMLookupIntrinsicID(name.as_ptr() as *const c_char, name.len());
            assert!(id != 0, "unknown intrinsic {name}");
            Value(LLVMGetIntrinsicDeclaration(
                self.raw,
                id,
                raw.as_mut_ptr(),
                raw.len(),
            ))
        }
    }

    /// Runs a new-pass-manager pipeline, e.g. `default<O2>`.
    pub fn run_passes(&mut self, pipeline: &str, machine: &TargetMachine) -> Result<(), String> {
        let c = cstring(pipeline);
        // SAFETY: options are created and disposed here; the module and machine are live.
        unsafe {
            let options = LLVMCreatePassBuilderOptions();
            let err = LLVMRunPasses(self.raw, c.as_ptr(), machine.raw, options);
            LLVMDisposePassBuilderOptions(options);
            take_error(err)
        }
    }

    /// Size and alignment queries under this module's current data layout.
    pub fn layout(&self) -> DataLayout {
        // SAFETY: creates an owned TargetData from the module's layout string.
        DataLayout {
            raw: unsafe { LLVMCreateTargetData(LLVMGetDataLayoutStr(self.raw)) },
        }
    }

    pub fn raw(&self) -> LLVMModuleRef {
        self.raw
    }
}

pub struct DataLayout {
    raw: LLVMTargetDataRef,
}

impl DataLayout {
    pub fn from_string(layout: &str) -> Self {
        let c = cstring(layout);
        // SAFETY: LLVM parses and copies the string into an owned TargetData.
        DataLayout {
            raw: unsafe { LLVMCreateTargetData(c.as_ptr()) },
        }
    }
    pub fn alloc_size(&self, ty: Type) -> u64 {
        // SAFETY: ty is a live sized type.
        unsafe { LLVMABISizeOfType(self.raw, ty.0) }
    }
    pub fn store_size(&self, ty: Type) -> u64 {
        // SAFETY: ty is a live sized type.
        unsafe { LLVMStoreSizeOfType(self.raw, ty.0) }
    }
    pub fn abi_align(&self, ty: Type) -> u64 {
        // SAFETY: ty is a live sized type.
        unsafe { LLVMABIAlignmentOfType(self.raw, ty.0) as u64 }
    }
    pub fn preferred_align(&self, ty: Type) -> u64 {
        // SAFETY: ty is a live sized type.
        unsafe { LLVMPreferredAlignmentOfType(self.raw, ty.0) as u64 }
    }
    pub fn element_offset(&self, struct_ty: Type, index: u32) -> u64 {
        // SAFETY: struct_ty is a live struct type with more than `index` elements.
        unsafe { LLVMOffsetOfElement(self.raw, struct_ty.0, index) }
    }
}

impl Drop for DataLayout {
    fn drop(&mut self) {
        // SAFETY: we own the TargetData.
        unsafe { LLVMDisposeTargetData(self.raw) }
    }
}

pub struct TargetMachine {
    raw: LLVMTargetMachineRef,
}

impl TargetMachine {
    pub fn new(
        triple: &str,
        cpu: &str,
        features: &str,
        static_reloc: bool,
    ) -> Result<Self, String> {
        initialise_targets();
        let triple_c = cstring(triple);
        let cpu_c = cstring(cpu);
        let features_c = cstring(features);
        // SAFETY: error message ownership follows LLVM's contract; strings outlive the calls.
        unsafe {
            let mut target = ptr::null_mut();
            let mut message = ptr::null_mut();
            if LLVMGetTargetFromTriple(triple_c.as_ptr(), &mut target, &mut message) != 0 {
                return Err(take_message(message));
            }
            let reloc = if static_reloc {
                LLVMRelocMode::LLVMRelocStatic
            } else {
                LLVMRelocMode::LLVMRelocDefault
            };
            let raw = LLVMCreateTargetMachine(
                target,
                triple_c.as_ptr(),
                cpu_c.as_ptr(),
                features_c.as_ptr(),
                LLVMCodeGenOptLevel::LLVMCodeGenLevelDefault,
                reloc,
                LLVMCodeModel::LLVMCodeModelSmall,
            );
            if raw.is_null() {
                return Err(format!("LLVM cannot create a target machine for {triple}"));
            }
            Ok(TargetMachine { raw })
        }
    }

    pub fn data_layout(&self) -> String {
        // SAFETY: the TargetData is created, printed and disposed here.
        unsafe {
            let td = LLVMCreateTargetDataLayout(self.raw);
            let text = take_message(LLVMCopyStringRepOfTargetData(td));
            LLVMDisposeTargetData(td);
            text
        }
    }

    /// Emits an object file for `module` into memory.
    pub fn emit_object(&self, module: &mut Module) -> Result<Vec<u8>, String> {
        // SAFETY: the module and machine are live; the returned buffer is copied and freed.
        unsafe {
            let mut message = ptr::null_mut();
            let mut buffer = ptr::null_mut();
            if LLVMTargetMachineEmitToMemoryBuffer(
                self.raw,
                module.raw,
                LLVMCodeGenFileType::LLVMObjectFile,
                &mut message,
                &mut buffer,
            ) != 0
            {
                return Err(take_message(message));
            }
            let start = LLVMGetBufferStart(buffer) as *const u8;
            let bytes = std::slice::from_raw_parts(start, LLVMGetBufferSize(buffer)).to_vec();
            LLVMDisposeMemoryBuffer(buffer);
            Ok(bytes)
        }
    }
}

impl Drop for TargetMachine {
    fn drop(&mut self) {
        // SAFETY: we own the machine.
        unsafe { LLVMDisposeTargetMachine(self.raw) }
    }
}

// SAFETY: a TargetMachine is only used from one thread at a time (each codegen thread builds
// its own); moving it between threads is allowed by LLVM.
unsafe impl Send for TargetMachine {}

/// A function attribute created in a context.
#[derive(Clone, Copy, Debug)]
pub struct Attribute(LLVMAttributeRef);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Type(LLVMTypeRef);

impl Type {
    pub fn kind(self) -> TypeKind {
        // SAFETY: live type handle.
        unsafe { LLVMGetTypeKind(self.0) }
    }
    pub fn is_sized(self) -> bool {
        // SAFETY: live type handle.
        unsafe { LLVMTypeIsSized(self.0) != 0 }
    }
    pub fn to_text(self) -> String {
        // SAFETY: live type handle; message freed by take_message.
        take_message(unsafe { LLVMPrintTypeToString(self.0) })
    }
    pub fn struct_fields(self) -> Vec<Type> {
        // SAFETY: caller checked that this is a struct type.
        unsafe {
            (0..LLVMCountStructElementTypes(self.0))
                .map(|i| Type(LLVMStructGetTypeAtIndex(self.0, i)))
                .collect()
        }
    }
    pub fn is_packed(self) -> bool {
        // SAFETY: caller checked that this is a struct type.
        unsafe { LLVMIsPackedStruct(self.0) != 0 }
    }
    pub fn element(self) -> Type {
        // SAFETY: caller checked that this is an array or vector type.
        Type(unsafe { LLVMGetElementType(self.0) })
    }
    pub fn array_len(self) -> u64 {
        // SAFETY: caller checked that this is an array type.
        unsafe { LLVMGetArrayLength2(self.0) }
    }
    pub fn vector_len(self) -> u64 {
        // SAFETY: caller checked that this is a vector type.
        unsafe { LLVMGetVectorSize(self.0) as u64 }
    }
    pub fn int_width(self) -> u32 {
        // SAFETY: caller checked that this is an integer type.
        unsafe { LLVMGetIntTypeWidth(self.0) }
    }
    pub fn return_type(self) -> Type {
        // SAFETY: caller checked that this is a function type.
        Type(unsafe { LLVMGetReturnType(self.0) })
    }
    pub fn param_types(self) -> Vec<Type> {
        // SAFETY: caller checked that this is a function type; the vector has room for all.
        unsafe {
            let n = LLVMCountParamTypes(self.0) as usize;
            let mut raw = vec![ptr::null_mut(); n];
            LLVMGetParamTypes(self.0, raw.as_mut_ptr());
            raw.into_iter().map(Type).collect()
        }
    }
    pub fn is_variadic(self) -> bool {
        // SAFETY: caller checked that this is a function type.
        unsafe { LLVMIsFunctionVarArg(self.0) != 0 }
    }
    pub fn const_int(self, value: u64) -> Value {
        // SAFETY: self is an integer type.
        Value(unsafe { LLVMConstInt(self.0, value, 0) })
    }
    pub fn const_null(self) -> Value {
        // SAFETY: live type handle.
        Value(unsafe { LLVMConstNull(self.0) })
    }
    pub fn const_zero_array(self) -> Value {
        self.const_null()
    }
    pub fn undef(self) -> Value {
        // SAFETY: live type handle.
        Value(unsafe { LLVMGetUndef(self.0) })
    }
    pub fn const_array(self, elements: &[Value]) -> Value {
        let mut raw: Vec<LLVMValueRef> = elements.iter().map(|v| v.0).collect();
        // SAFETY: every element has type `self`; LLVM copies the array.
        Value(unsafe { LLVMConstArray2(self.0, raw.as_mut_ptr(), raw.len() as u64) })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Block(LLVMBasicBlockRef);

impl Block {
    pub fn instructions(self) -> Vec<Value> {
        // SAFETY: a live block's instruction list, read without modifying it.
        unsafe {
            collect_list(
                LLVMGetFirstInstruction(self.0),
                LLVMGetNextInstruction,
                Value,
            )
        }
    }
    pub fn first_instruction(self) -> Option<Value> {
        // SAFETY: live block.
        let i = unsafe { LLVMGetFirstInstruction(self.0) };
        (!i.is_null()).then_some(Value(i))
    }
    pub fn terminator(self) -> Option<Value> {
        // SAFETY: live block.
        let i = unsafe { LLVMGetBasicBlockTerminator(self.0) };
        (!i.is_null()).then_some(Value(i))
    }
    /// Successor blocks, in terminator order (may repeat).
    pub fn successors(self) -> Vec<Block> {
        let Some(term) = self.terminator() else {
            return Vec::new();
        };
        // SAFETY: `term` is this block's live terminator.
        unsafe {
            (0..LLVMGetNumSuccessors(term.0))
                .map(|i| Block(LLVMGetSuccessor(term.0, i)))
                .collect()
        }
    }
    /// The first instruction that is not a PHI node.
    pub fn first_non_phi(self) -> Option<Value> {
        self.instructions().into_iter().find(|i| !i.is_phi())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Value(LLVMValueRef);

impl Value {
    pub fn raw(self) -> LLVMValueRef {
        self.0
    }
    pub fn name(self) -> String {
        let mut len = 0;
        // SAFETY: returns a pointer into the value with its length, copied immediately.
        unsafe {
            let raw = LLVMGetValueName2(self.0, &mut len);
            if raw.is_null() {
                return String::new();
            }
            String::from_utf8_lossy(std::slice::from_raw_parts(raw as *const u8, len)).into_owned()
        }
    }
    pub fn set_name(self, name: &str) {
        // SAFETY: the name is passed with its length and copied by LLVM.
        unsafe { LLVMSetValueName2(self.0, name.as_ptr() as *const c_char, name.len()) }
    }
    pub fn type_of(self) -> Type {
        // SAFETY: live value.
        Type(unsafe { LLVMTypeOf(self.0) })
    }
    /// The type of a global's or function's contents (its "value type").
    pub fn value_type(self) -> Type {
        // SAFETY: caller passes a global value.
        Type(unsafe { LLVMGlobalGetValueType(self.0) })
    }
    pub fn is_function(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAFunction(self.0).is_null() }
    }
    pub fn is_global_variable(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAGlobalVariable(self.0).is_null() }
    }
    pub fn is_global_alias(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAGlobalAlias(self.0).is_null() }
    }
    pub fn is_instruction(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAInstruction(self.0).is_null() }
    }
    pub fn is_constant(self) -> bool {
        // SAFETY: live value.
        unsafe { LLVMIsConstant(self.0) != 0 }
    }
    pub fn is_constant_expr(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAConstantExpr(self.0).is_null() }
    }
    pub fn is_constant_int(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAConstantInt(self.0).is_null() }
    }
    pub fn is_inline_asm(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAInlineAsm(self.0).is_null() }
    }
    pub fn is_block_address(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsABlockAddress(self.0).is_null() }
    }
    /// The block a `blockaddress` constant names.
    pub fn block_address_block(self) -> Block {
        // SAFETY: caller passes a blockaddress constant.
        Block(unsafe { LLVMGetBlockAddressBasicBlock(self.0) })
    }
    pub fn is_null_value(self) -> bool {
        // SAFETY: live constant.
        unsafe { LLVMIsNull(self.0) != 0 }
    }
    pub fn const_int_value(self) -> u64 {
        // SAFETY: caller checked is_constant_int.
        unsafe { LLVMConstIntGetZExtValue(self.0) }
    }
    pub fn const_opcode(self) -> Opcode {
        // SAFETY: caller checked is_constant_expr.
        unsafe { LLVMGetConstOpcode(self.0) }
    }
    pub fn is_declaration(self) -> bool {
        // SAFETY: caller passes a global value.
        unsafe { LLVMIsDeclaration(self.0) != 0 }
    }
    pub fn linkage(self) -> Linkage {
        // SAFETY: caller passes a global value.
        unsafe { LLVMGetLinkage(self.0) }
    }
    pub fn set_linkage(self, linkage: Linkage) {
        // SAFETY: caller passes a global value.
        unsafe { LLVMSetLinkage(self.0, linkage) }
    }
    pub fn set_hidden(self) {
        // SAFETY: caller passes a global value.
        unsafe { LLVMSetVisibility(self.0, LLVMVisibility::LLVMHiddenVisibility) }
    }
    pub fn set_default_visibility(self) {
        // SAFETY: caller passes a global value.
        unsafe { LLVMSetVisibility(self.0, LLVMVisibility::LLVMDefaultVisibility) }
    }
    pub fn set_unnamed_addr(self, unnamed: bool) {
        let kind = if unnamed {
            LLVMUnnamedAddr::LLVMGlobalUnnamedAddr
        } else {
            LLVMUnnamedAddr::LLVMNoUnnamedAddr
        };
        // SAFETY: caller passes a global value.
        unsafe { LLVMSetUnnamedAddress(self.0, kind) }
    }
    pub fn is_weak(self) -> bool {
        matches!(
            self.linkage(),
            LLVMLinkage::LLVMExternalWeakLinkage
                | LLVMLinkage::LLVMWeakAnyLinkage
                | LLVMLinkage::LLVMWeakODRLinkage
                | LLVMLinkage::LLVMLinkOnceAnyLinkage
                | LLVMLinkage::LLVMLinkOnceODRLinkage
        )
    }
    pub fn section(self) -> Option<String> {
        // SAFETY: caller passes a global value; the returned string is copied.
        unsafe {
            let raw = LLVMGetSection(self.0);
            (!raw.is_null()).then(|| CStr::from_ptr(raw).to_string_lossy().into_owned())
        }
    }
    pub fn set_section(self, section: &str) {
        let c = cstring(section);
        // SAFETY: LLVM copies the string.
        unsafe { LLVMSetSection(self.0, c.as_ptr()) }
    }
    pub fn alignment(self) -> u64 {
        // SAFETY: caller passes a global, alloca, load or store.
        unsafe { LLVMGetAlignment(self.0) as u64 }
    }
    pub fn set_alignment(self, align: u64) {
        // SAFETY: caller passes a global, alloca, load or store.
        unsafe { LLVMSetAlignment(self.0, align as u32) }
    }
    pub fn initializer(self) -> Option<Value> {
        // SAFETY: caller passes a global variable.
        let init = unsafe { LLVMGetInitializer(self.0) };
        (!init.is_null()).then_some(Value(init))
    }
    pub fn set_initializer(self, init: Value) {
        // SAFETY: init has the global's value type.
        unsafe { LLVMSetInitializer(self.0, init.0) }
    }
    pub fn is_global_constant(self) -> bool {
        // SAFETY: caller passes a global variable.
        unsafe { LLVMIsGlobalConstant(self.0) != 0 }
    }
    pub fn set_global_constant(self, constant: bool) {
        // SAFETY: caller passes a global variable.
        unsafe { LLVMSetGlobalConstant(self.0, constant as LLVMBool) }
    }
    pub fn is_thread_local(self) -> bool {
        // SAFETY: caller passes a global variable.
        unsafe { LLVMIsThreadLocal(self.0) != 0 }
    }
    pub fn set_thread_local(self, tls: bool) {
        // SAFETY: caller passes a global variable.
        unsafe { LLVMSetThreadLocal(self.0, tls as LLVMBool) }
    }
    pub fn aliasee(self) -> Value {
        // SAFETY: caller passes a global alias.
        Value(unsafe { LLVMAliasGetAliasee(self.0) })
    }
    pub fn intrinsic_id(self) -> u32 {
        // SAFETY: caller passes a function.
        unsafe { LLVMGetIntrinsicID(self.0) }
    }
    pub fn is_intrinsic(self) -> bool {
        self.is_function() && self.intrinsic_id() != 0
    }
    pub fn blocks(self) -> Vec<Block> {
        // SAFETY: a live function's block list, read without modifying it.
        unsafe { collect_list(LLVMGetFirstBasicBlock(self.0), LLVMGetNextBasicBlock, Block) }
    }
    pub fn entry_block(self) -> Option<Block> {
        // SAFETY: caller passes a function.
        unsafe {
            if LLVMCountBasicBlocks(self.0) == 0 {
                None
            } else {
                Some(Block(LLVMGetEntryBasicBlock(self.0)))
            }
        }
    }
    pub fn instructions(self) -> Vec<Value> {
        self.blocks()
            .into_iter()
            .flat_map(|b| b.instructions())
            .collect()
    }
    pub fn params(self) -> Vec<Value> {
        // SAFETY: caller passes a function.
        unsafe {
            (0..LLVMCountParams(self.0))
                .map(|i| Value(LLVMGetParam(self.0, i)))
                .collect()
        }
    }
    pub fn append_block(self, name: &str) -> Block {
        let c = cstring(name);
        // SAFETY: caller passes a function of a live module.
        Block(unsafe {
            LLVMAppendBasicBlockInContext(
                LLVMGetTypeContext(LLVMTypeOf(self.0)),
                self.0,
                c.as_ptr(),
            )
        })
    }
    pub fn add_attribute(self, attr: Attribute) {
        // SAFETY: caller passes a function; the attribute was created in its context.
        unsafe { LLVMAddAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, attr.0) }
    }
    pub fn remove_string_attribute(self, key: &str) {
        // SAFETY: caller passes a function; key is passed with its length.
        unsafe {
            LLVMRemoveStringAttributeAtIndex(
                self.0,
                llvm_sys::LLVMAttributeFunctionIndex,
                key.as_ptr() as *const c_char,
                key.len() as u32,
            )
        }
    }
    pub fn remove_enum_attribute(self, name: &str) {
        // SAFETY: caller passes a function; name is passed with its length.
        unsafe {
            let kind = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const c_char, name.len());
            LLVMRemoveEnumAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, kind);
        }
    }
    pub fn set_call_convention(self, cc: u32) {
        // SAFETY: caller passes a function or call.
        unsafe {
            if self.is_function() {
                LLVMSetFunctionCallConv(self.0, cc)
            } else {
                LLVMSetInstructionCallConv(self.0, cc)
            }
        }
    }

    /// Source file of a function, from its debug info, if it has any.
    pub fn debug_file(self) -> Option<String> {
        // SAFETY: caller passes a function; metadata pointers are checked for null.
        unsafe {
            let sp = LLVMGetSubprogram(self.0);
            if sp.is_null() {
                return None;
            }
            let file = LLVMDIScopeGetFile(sp);
            if file.is_null() {
                return None;
            }
            let mut len = 0;
            let raw = LLVMDIFileGetFilename(file, &mut len);
            Some(
                String::from_utf8_lossy(std::slice::from_raw_parts(raw as *const u8, len as usize))
                    .into_owned(),
            )
        }
    }

    // --- instructions ---
    pub fn opcode(self) -> Opcode {
        // SAFETY: caller passes an instruction.
        unsafe { LLVMGetInstructionOpcode(self.0) }
    }
    pub fn parent_block(self) -> Block {
        // SAFETY: caller passes an instruction in a block.
        Block(unsafe { LLVMGetInstructionParent(self.0) })
    }
    pub fn parent_function(self) -> Value {
        // SAFETY: caller passes an instruction in a function.
        Value(unsafe { LLVMGetBasicBlockParent(LLVMGetInstructionParent(self.0)) })
    }
    pub fn num_operands(self) -> u32 {
        // SAFETY: caller passes a user (instruction or constant).
        unsafe { LLVMGetNumOperands(self.0).max(0) as u32 }
    }
    pub fn operand(self, index: u32) -> Value {
        // SAFETY: caller keeps index below num_operands.
        Value(unsafe { LLVMGetOperand(self.0, index) })
    }
    pub fn operands(self) -> Vec<Value> {
        (0..self.num_operands()).map(|i| self.operand(i)).collect()
    }
    pub fn set_operand(self, index: u32, value: Value) {
        // SAFETY: caller keeps index below num_operands and passes a value of the right type.
        unsafe { LLVMSetOperand(self.0, index, value.0) }
    }
    pub fn is_call(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsACallInst(self.0).is_null() || !LLVMIsAInvokeInst(self.0).is_null() }
    }
    pub fn is_phi(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAPHINode(self.0).is_null() }
    }
    pub fn is_terminator(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsATerminatorInst(self.0).is_null() }
    }
    pub fn is_argument(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMIsAArgument(self.0).is_null() }
    }
    /// (value, block) pairs of a PHI node.
    pub fn incoming(self) -> Vec<(Value, Block)> {
        // SAFETY: caller passes a PHI node; indices stay below its incoming count.
        unsafe {
            (0..LLVMCountIncoming(self.0))
                .map(|i| {
                    (
                        Value(LLVMGetIncomingValue(self.0, i)),
                        Block(LLVMGetIncomingBlock(self.0, i)),
                    )
                })
                .collect()
        }
    }
    pub fn next_instruction(self) -> Option<Value> {
        // SAFETY: caller passes an instruction.
        let next = unsafe { LLVMGetNextInstruction(self.0) };
        (!next.is_null()).then_some(Value(next))
    }
    pub fn set_tail_call(self, tail: bool) {
        // SAFETY: caller passes a call instruction.
        unsafe { LLVMSetTailCall(self.0, tail as LLVMBool) }
    }
    pub fn call_convention(self) -> u32 {
        // SAFETY: caller passes a function or call.
        unsafe {
            if self.is_function() {
                LLVMGetFunctionCallConv(self.0)
            } else {
                LLVMGetInstructionCallConv(self.0)
            }
        }
    }
    /// Adds a string attribute to a call site (function position).
    pub fn add_call_site_attribute(self, attr: Attribute) {
        // SAFETY: caller passes a call; the attribute was created in its context.
        unsafe { LLVMAddCallSiteAttribute(self.0, llvm_sys::LLVMAttributeFunctionIndex, attr.0) }
    }
    /// The attributes of a call's argument `index` (0-based).
    pub fn call_argument_attributes(self, index: u32) -> Vec<Attribute> {
        // SAFETY: caller passes a call; the vector has room for every attribute.
        unsafe {
            let n = LLVMGetCallSiteAttributeCount(self.0, index + 1) as usize;
            let mut raw = vec![ptr::null_mut(); n];
            LLVMGetCallSiteAttributes(self.0, index + 1, raw.as_mut_ptr());
            raw.into_iter().map(Attribute).collect()
        }
    }
    pub fn num_call_arguments(self) -> u32 {
        // SAFETY: caller passes a call.
        unsafe { LLVMGetNumArgOperands(self.0) }
    }
    /// Adds an attribute to a call's argument `index` (0-based).
    pub fn add_call_argument_attribute(self, index: u32, attr: Attribute) {
        // SAFETY: caller passes a call with more than `index` arguments.
        unsafe { LLVMAddCallSiteAttribute(self.0, index + 1, attr.0) }
    }
    /// The value of a string attribute on a call site, if present.
    pub fn call_site_string_attribute(self, key: &str) -> Option<String> {
        // SAFETY: caller passes a call; the returned attribute and its value are read at once.
        unsafe {
            let attr = LLVMGetCallSiteStringAttribute(
                self.0,
                llvm_sys::LLVMAttributeFunctionIndex,
                key.as_ptr() as *const c_char,
                key.len() as u32,
            );
            if attr.is_null() {
                return None;
            }
            let mut len = 0;
            let raw = LLVMGetStringAttributeValue(attr, &mut len);
            Some(
                String::from_utf8_lossy(std::slice::from_raw_parts(raw as *const u8, len as usize))
                    .into_owned(),
            )
        }
    }
    /// The type of a `byval(T)` on call argument `index` (0-based), if it has one.
    pub fn call_argument_byval_type(self, index: u32) -> Option<Type> {
        // SAFETY: caller passes a call with more than `index` arguments.
        unsafe {
            let attr = LLVMGetCallSiteEnumAttribute(self.0, index + 1, attribute_kind("byval"));
            (!attr.is_null()).then(|| Type(LLVMGetTypeAttributeValue(attr)))
        }
    }
    /// Removes enum attribute `name` from call argument `index` (0-based).
    pub fn remove_call_argument_attribute(self, index: u32, name: &str) {
        // SAFETY: caller passes a call with more than `index` arguments.
        unsafe { LLVMRemoveCallSiteEnumAttribute(self.0, index + 1, attribute_kind(name)) }
    }
    /// Removes enum attribute `name` from parameter `index` (0-based) of a function.
    pub fn remove_param_attribute(self, index: u32, name: &str) {
        // SAFETY: caller passes a function with more than `index` parameters.
        unsafe { LLVMRemoveEnumAttributeAtIndex(self.0, index + 1, attribute_kind(name)) }
    }
    /// The value of a string function attribute, if present.
    pub fn string_attribute(self, key: &str) -> Option<String> {
        // SAFETY: caller passes a function; the returned attribute and its value are read at once.
        unsafe {
            let attr = LLVMGetStringAttributeAtIndex(
                self.0,
                llvm_sys::LLVMAttributeFunctionIndex,
                key.as_ptr() as *const c_char,
                key.len() as u32,
            );
            if attr.is_null() {
                return None;
            }
            let mut len = 0;
            let raw = LLVMGetStringAttributeValue(attr, &mut len);
            Some(
                String::from_utf8_lossy(std::slice::from_raw_parts(raw as *const u8, len as usize))
                    .into_owned(),
            )
        }
    }
    pub fn set_gc(self, name: &str) {
        let c = cstring(name);
        // SAFETY: caller passes a function; LLVM copies the name.
        unsafe { LLVMSetGC(self.0, c.as_ptr()) }
    }
    pub fn called_value(self) -> Value {
        // SAFETY: caller passes a call.
        Value(unsafe { LLVMGetCalledValue(self.0) })
    }
    pub fn called_function_type(self) -> Type {
        // SAFETY: caller passes a call.
        Type(unsafe { LLVMGetCalledFunctionType(self.0) })
    }
    /// Index of the callee operand of a call (always the last operand).
    pub fn callee_operand_index(self) -> u32 {
        self.num_operands() - 1
    }
    pub fn allocated_type(self) -> Type {
        // SAFETY: caller passes an alloca.
        Type(unsafe { LLVMGetAllocatedType(self.0) })
    }
    pub fn gep_source_type(self) -> Type {
        // SAFETY: caller passes a GEP instruction or GEP constant expression.
        Type(unsafe { LLVMGetGEPSourceElementType(self.0) })
    }
    pub fn set_volatile(self, volatile: bool) {
        // SAFETY: caller passes a load or store.
        unsafe { LLVMSetVolatile(self.0, volatile as i32) }
    }
    pub fn erase(self) {
        // SAFETY: caller passes an instruction with no remaining uses.
        unsafe { LLVMInstructionEraseFromParent(self.0) }
    }
    pub fn delete_global(self) {
        // SAFETY: caller passes a global variable with no remaining uses.
        unsafe { LLVMDeleteGlobal(self.0) }
    }
    pub fn delete_function(self) {
        // SAFETY: caller passes a function with no remaining uses.
        unsafe { LLVMDeleteFunction(self.0) }
    }
    /// Moves this instruction, keeping its name, to just before `at` (in the same function).
    pub fn move_before(self, at: Value) {
        let name = cstring(&self.name());
        // SAFETY: both are live instructions of one function; the builder is disposed here.
        unsafe {
            let builder = LLVMCreateBuilderInContext(LLVMGetTypeContext(LLVMTypeOf(self.0)));
            LLVMInstructionRemoveFromParent(self.0);
            LLVMPositionBuilderBefore(builder, at.0);
            LLVMInsertIntoBuilderWithName(builder, self.0, name.as_ptr());
            LLVMDisposeBuilder(builder);
        }
    }
    pub fn replace_all_uses_with(self, new: Value) {
        // SAFETY: new has the same type as self.
        unsafe { LLVMReplaceAllUsesWith(self.0, new.0) }
    }

    /// The users of this value (instructions and constants), one entry per use.
    pub fn users(self) -> Vec<Value> {
        // SAFETY: the live use list, read without modifying it; each use names a live user.
        unsafe {
            collect_list(LLVMGetFirstUse(self.0), LLVMGetNextUse, |u| {
                Value(LLVMGetUser(u))
            })
        }
    }
    /// Is every use of this value the callee operand of a call (a direct call)?
    pub fn only_called_directly(self) -> bool {
        // SAFETY: walks the live use list; each user is checked to be a call before its
        // callee operand use is fetched.
        unsafe {
            let mut u = LLVMGetFirstUse(self.0);
            while !u.is_null() {
                let user = LLVMGetUser(u);
                // A leftover alias (folded, awaiting removal) does not take the address.
                if !LLVMIsAGlobalAlias(user).is_null() {
                    u = LLVMGetNextUse(u);
                    continue;
                }
                let is_call = !LLVMIsACallInst(user).is_null();
                if !is_call {
                    return false;
                }
                let callee = (LLVMGetNumOperands(user) - 1) as u32;
                if LLVMGetOperandUse(user, callee) != u {
                    return false;
                }
                u = LLVMGetNextUse(u);
            }
        }
        true
    }
    pub fn has_uses(self) -> bool {
        // SAFETY: live value.
        unsafe { !LLVMGetFirstUse(self.0).is_null() }
    }

    // --- constants ---
    pub fn const_inttoptr(self, ptr_type: Type) -> Value {
        // SAFETY: self is an integer constant.
        Value(unsafe { LLVMConstIntToPtr(self.0, ptr_type.0) })
    }
    pub fn const_ptrtoint(self, int_type: Type) -> Value {
        // SAFETY: self is a pointer constant.
        Value(unsafe { LLVMConstPtrToInt(self.0, int_type.0) })
    }
    /// `getelementptr inbounds i8, ptr self, i64 offset` as a constant.
    pub fn const_byte_offset(self, context: &Context, offset: u64) -> Value {
        let mut index = [context.i64().const_int(offset).0];
        // SAFETY: self is a pointer constant; the index array lives across the call.
        Value(unsafe { LLVMConstInBoundsGEP2(context.i8().0, self.0, index.as_mut_ptr(), 1) })
    }
}

pub struct Builder {
    raw: LLVMBuilderRef,
}

impl Drop for Builder {
    fn drop(&mut self) {
        // SAFETY: we own the builder.
        unsafe { LLVMDisposeBuilder(self.raw) }
    }
}

impl Builder {
    /// Gives the instructions built from now on the debug location of `instruction` (none
    /// if it has none).
    pub fn set_debug_location_from(&self, instruction: Value) {
        // SAFETY: live builder and instruction; a null location clears it.
        unsafe { LLVMSetCurrentDebugLocation2(self.raw, LLVMInstructionGetDebugLoc(instruction.0)) }
    }

    pub fn clear_debug_location(&self) {
        // SAFETY: live builder; null clears the location.
        unsafe { LLVMSetCurrentDebugLocation2(self.raw, ptr::null_mut()) }
    }

    pub fn position_before(&self, instruction: Value) {
        // SAFETY: instruction is live and in a block.
        unsafe { LLVMPositionBuilderBefore(self.raw, instruction.0) }
    }
    pub fn position_at_end(&self, block: Block) {
        // SAFETY: block is live.
        unsafe { LLVMPositionBuilderAtEnd(self.raw, block.0) }
    }
    pub fn alloca(&self, ty: Type, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned in a function.
        Value(unsafe { LLVMBuildAlloca(self.raw, ty.0, c.as_ptr()) })
    }
    pub fn phi(&self, ty: Type, incoming: &[(Value, Block)], name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned at the start of a block; pairs are live.
        unsafe {
            let phi = LLVMBuildPhi(self.raw, ty.0, c.as_ptr());
            for (value, block) in incoming {
                let mut v = value.0;
                let mut b = block.0;
                LLVMAddIncoming(phi, &mut v, &mut b, 1);
            }
            Value(phi)
        }
    }
    pub fn br(&self, target: Block) -> Value {
        // SAFETY: the builder is positioned at the end of a block.
        Value(unsafe { LLVMBuildBr(self.raw, target.0) })
    }
    pub fn switch(&self, value: Value, default: Block, cases: &[(Value, Block)]) -> Value {
        // SAFETY: the builder is positioned at the end of a block; case values are constants.
        unsafe {
            let switch = LLVMBuildSwitch(self.raw, value.0, default.0, cases.len() as u32);
            for (case, block) in cases {
                LLVMAddCase(switch, case.0, block.0);
            }
            Value(switch)
        }
    }
    /// An empty inline-assembly statement that takes `pointer` and clobbers memory: code after
    /// it must reload anything stored through `pointer`.
    pub fn memory_barrier(&self, context: &Context, pointer: Value) -> Value {
        let fn_type = context.function_type(context.void(), &[context.ptr()], false);
        let constraints = "r,~{memory}";
        // SAFETY: the strings are passed with their lengths; the builder is positioned.
        unsafe {
            let asm = LLVMGetInlineAsm(
                fn_type.0,
                c"".as_ptr() as *mut c_char,
                0,
                constraints.as_ptr() as *mut c_char,
                constraints.len(),
                1,
                0,
                llvm_sys::LLVMInlineAsmDialect::LLVMInlineAsmDialectATT,
                0,
            );
            let mut args = [pointer.0];
            Value(LLVMBuildCall2(
                self.raw,
                fn_type.0,
                asm,
                args.as_mut_ptr(),
                1,
                c"".as_ptr(),
            ))
        }
    }
    pub fn load(&self, ty: Type, ptr: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are live values of this context.
        Value(unsafe { LLVMBuildLoad2(self.raw, ty.0, ptr.0, c.as_ptr()) })
    }
    pub fn store(&self, value: Value, ptr: Value) -> Value {
        // SAFETY: the builder is positioned; operands are live values of this context.
        Value(unsafe { LLVMBuildStore(self.raw, value.0, ptr.0) })
    }
    pub fn byte_gep(&self, context: &Context, ptr: Value, offset: Value, name: &str) -> Value {
        let c = cstring(name);
        let mut index = [offset.0];
        // SAFETY: the builder is positioned; ptr is a pointer and offset an integer.
        Value(unsafe {
            LLVMBuildGEP2(
                self.raw,
                context.i8().0,
                ptr.0,
                index.as_mut_ptr(),
                1,
                c.as_ptr(),
            )
        })
    }
    pub fn ptr_to_int(&self, value: Value, ty: Type, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; value is a pointer.
        Value(unsafe { LLVMBuildPtrToInt(self.raw, value.0, ty.0, c.as_ptr()) })
    }
    pub fn int_to_ptr(&self, value: Value, ty: Type, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; value is an integer.
        Value(unsafe { LLVMBuildIntToPtr(self.raw, value.0, ty.0, c.as_ptr()) })
    }
    pub fn int_cast(&self, value: Value, ty: Type, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; value is an integer.
        Value(unsafe { LLVMBuildIntCast2(self.raw, value.0, ty.0, 0, c.as_ptr()) })
    }
    pub fn and(&self, a: Value, b: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are integers of one type.
        Value(unsafe { LLVMBuildAnd(self.raw, a.0, b.0, c.as_ptr()) })
    }
    pub fn or(&self, a: Value, b: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are integers of one type.
        Value(unsafe { LLVMBuildOr(self.raw, a.0, b.0, c.as_ptr()) })
    }
    pub fn add(&self, a: Value, b: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are integers of one type.
        Value(unsafe { LLVMBuildAdd(self.raw, a.0, b.0, c.as_ptr()) })
    }
    pub fn sub(&self, a: Value, b: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are integers of one type.
        Value(unsafe { LLVMBuildSub(self.raw, a.0, b.0, c.as_ptr()) })
    }
    pub fn mul(&self, a: Value, b: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are integers of one type.
        Value(unsafe { LLVMBuildMul(self.raw, a.0, b.0, c.as_ptr()) })
    }
    pub fn icmp(&self, pred: IntPredicate, a: Value, b: Value, name: &str) -> Value {
        let c = cstring(name);
        // SAFETY: the builder is positioned; operands are comparable.
        Value(unsafe { LLVMBuildICmp(self.raw, pred, a.0, b.0, c.as_ptr()) })
    }
    pub fn cond_br(&self, cond: Value, then: Block, otherwise: Block) -> Value {
        // SAFETY: the builder is positioned; blocks are in the same function.
        Value(unsafe { LLVMBuildCondBr(self.raw, cond.0, then.0, otherwise.0) })
    }
    pub fn ret(&self, value: Option<Value>) -> Value {
        // SAFETY: the builder is positioned at the end of a block.
        Value(unsafe {
            match value {
                Some(v) => LLVMBuildRet(self.raw, v.0),
                None => LLVMBuildRetVoid(self.raw),
            }
        })
    }
    pub fn unreachable(&self) -> Value {
        // SAFETY: the builder is positioned at the end of a block.
        Value(unsafe { LLVMBuildUnreachable(self.raw) })
    }
    /// A call carrying one operand bundle `tag(bundle_args...)`.
    pub fn call_with_bundle(
        &self,
        fn_type: Type,
        callee: Value,
        args: &[Value],
        tag: &str,
        bundle_args: &[Value],
        name: &str,
    ) -> Value {
        let c = cstring(name);
        let mut raw: Vec<LLVMValueRef> = args.iter().map(|v| v.0).collect();
        let mut bundle_raw: Vec<LLVMValueRef> = bundle_args.iter().map(|v| v.0).collect();
        // SAFETY: the bundle is created, used and disposed here; args match fn_type.
        unsafe {
            let bundle = LLVMCreateOperandBundle(
                tag.as_ptr() as *const c_char,
                tag.len(),
                bundle_raw.as_mut_ptr(),
                bundle_raw.len() as u32,
            );
            let mut bundles = [bundle];
            let call = LLVMBuildCallWithOperandBundles(
                self.raw,
                fn_type.0,
                callee.0,
                raw.as_mut_ptr(),
                raw.len() as u32,
                bundles.as_mut_ptr(),
                1,
                c.as_ptr(),
            );
            LLVMDisposeOperandBundle(bundle);
            Value(call)
        }
    }
    pub fn call(&self, fn_type: Type, callee: Value, args: &[Value], name: &str) -> Value {
        let c = cstring(name);
        let mut raw: Vec<LLVMValueRef> = args.iter().map(|v| v.0).collect();
        // SAFETY: the builder is positioned; args match fn_type.
        Value(unsafe {
            LLVMBuildCall2(
                self.raw,
                fn_type.0,
                callee.0,
                raw.as_mut_ptr(),
                raw.len() as u32,
                c.as_ptr(),
            )
        })
    }
}

/// The elements of one of LLVM's intrusive lists, from `first` (null: empty) along `next`.
///
/// # Safety
/// `first` is null or a live element, `next` its list's successor function, and nothing
/// changes the list while it is read.
unsafe fn collect_list<E, T>(
    first: *mut E,
    next: unsafe extern "C" fn(*mut E) -> *mut E,
    mut wrap: impl FnMut(*mut E) -> T,
) -> Vec<T> {
    let mut out = Vec::new();
    let mut element = first;
    while !element.is_null() {
        out.push(wrap(element));
        // SAFETY: `element` is a live member of the list (the caller's contract).
        element = unsafe { next(element) };
    }
    out
}

/// Splits the block containing `at` so that `at` and everything after it move to a new block;
/// the old block ends with an unconditional branch to it. Returns the new block.
pub fn split_block_before(at: Value, name: &str) -> Block {
    let c = cstring(name);
    // SAFETY: `at` is a live instruction. The C API has no split, so we create the new block
    // after the old one and move instructions one by one, then add the branch.
    unsafe {
        let old = LLVMGetInstructionParent(at.0);
        let function = LLVMGetBasicBlockParent(old);
        let context = LLVMGetTypeContext(LLVMTypeOf(function));
        let next = LLVMGetNextBasicBlock(old);
        let new = if next.is_null() {
            LLVMAppendBasicBlockInContext(context, function, c.as_ptr())
        } else {
            LLVMInsertBasicBlockInContext(context, next, c.as_ptr())
        };
        let builder = LLVMCreateBuilderInContext(context);
        let mut inst = at.0;
        while !inst.is_null() {
            let following = LLVMGetNextInstruction(inst);
            LLVMInstructionRemoveFromParent(inst);
            LLVMPositionBuilderAtEnd(builder, new);
            LLVMInsertIntoBuilder(builder, inst);
            inst = following;
        }
        LLVMPositionBuilderAtEnd(builder, old);
        LLVMBuildBr(builder, new);
        LLVMDisposeBuilder(builder);
        // PHI nodes in successors still name `old` as their predecessor; retarget them.
        let term = LLVMGetBasicBlockTerminator(new);
        if !term.is_null() {
            for s in 0..LLVMGetNumSuccessors(term) {
                let succ = LLVMGetSuccessor(term, s);
                let mut phis = Vec::new();
                let mut phi = LLVMGetFirstInstruction(succ);
                while !phi.is_null() && !LLVMIsAPHINode(phi).is_null() {
                    phis.push(phi);
                    phi = LLVMGetNextInstruction(phi);
                }
                for phi in phis {
                    retarget_phi(phi, old, new);
                }
            }
        }
        Block(new)
    }
}

/// The C API cannot set a PHI's incoming block, so the PHI is rebuilt with `from` replaced by
/// `to` in every incoming pair.
///
/// SAFETY: `phi` is a live PHI node; `from` and `to` are blocks of its function.
unsafe fn retarget_phi(phi: LLVMValueRef, from: LLVMBasicBlockRef, to: LLVMBasicBlockRef) {
    // SAFETY: forwarded from the caller's contract; the replacement PHI is inserted before the
    // old one, gets all incoming pairs, takes its uses and name, and the old one is erased.
    unsafe {
        let n = LLVMCountIncoming(phi);
        if !(0..n).any(|i| LLVMGetIncomingBlock(phi, i) == from) {
            return;
        }
        let context = LLVMGetTypeContext(LLVMTypeOf(phi));
        let builder = LLVMCreateBuilderInContext(context);
        LLVMPositionBuilderBefore(builder, phi);
        let replacement = LLVMBuildPhi(builder, LLVMTypeOf(phi), c"".as_ptr());
        for i in 0..n {
            let mut value = LLVMGetIncomingValue(phi, i);
            let mut block = LLVMGetIncomingBlock(phi, i);
            if block == from {
                block = to;
            }
            LLVMAddIncoming(replacement, &mut value, &mut block, 1);
        }
        LLVMReplaceAllUsesWith(phi, replacement);
        let mut len = 0;
        let name = LLVMGetValueName2(phi, &mut len);
        let name = std::slice::from_raw_parts(name as *const u8, len).to_vec();
        LLVMInstructionEraseFromParent(phi);
        LLVMSetValueName2(replacement, name.as_ptr() as *const c_char, name.len());
        LLVMDisposeBuilder(builder);
    }
}

/// The kind id of an enum attribute (0 for an unknown name).
fn attribute_kind(name: &str) -> u32 {
    // SAFETY: the name is passed with its length.
    unsafe { LLVMGetEnumAttributeKindForName(name.as_ptr() as *const c_char, name.len()) }
}

pub fn is_opcode(value: Value, opcode: LLVMOpcode) -> bool {
    value.is_instruction() && value.opcode() == opcode
}

pub fn type_kind_is_integer(kind: LLVMTypeKind) -> bool {
    kind == LLVMTypeKind::LLVMIntegerTypeKind
}
